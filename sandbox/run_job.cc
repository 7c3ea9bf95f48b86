// Supervise(): one job from spec.json to result.json: the job's cgroup
// made, the OCI runtime's `run` (create, start, wait, delete in one
// process) waited for as a child, `kill` on the wall-clock limit or on
// cancel, the job's cgroup read and removed, the outputs collected.

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/strings.h"
#include "core/time.h"
#include "sandbox/gpu.h"
#include "sandbox/cgroup.h"
#include "sandbox/internal/files.h"
#include "sandbox/job_layer.h"
#include "sandbox/loop_mount.h"
#include "sandbox/nvml.h"
#include "sandbox/oci.h"
#include "sandbox/outputs.h"
#include "sandbox/process.h"
#include "sandbox/sha256.h"
#include "sandbox/supervisor.h"

namespace sluss::sandbox {
namespace {

namespace fs = std::filesystem;
using core::StrCat;
using Steady = std::chrono::steady_clock;

// Below this much free space the output file system counts as full.
constexpr std::int64_t kFullBelowBytes = 1 << 20;

std::string Now() {
  return core::FormatRfc3339(core::SystemClock().Now());
}

// One of the job's output streams, written to a file of at most
// `limit` bytes in two halves: past half, the file becomes NAME.1 and a new
// one starts, so the newest output is always kept and a reader can follow.
class LogSink {
 public:
  LogSink(std::string path, std::int64_t limit)
      : path_(std::move(path)), half_(std::max<std::int64_t>(limit / 2, 4096)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  }
  ~LogSink() {
    if (fd_ >= 0) ::close(fd_);
  }
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  void Write(const char* data, std::size_t n) {
    if (fd_ < 0) return;
    if (size_ + static_cast<std::int64_t>(n) > half_ && size_ > 0) Rotate();
    while (n > 0) {
      ssize_t put = ::write(fd_, data, n);
      if (put < 0 && errno == EINTR) continue;
      if (put <= 0) return;
      size_ += put;
      data += put;
      n -= static_cast<std::size_t>(put);
    }
  }

 private:
  void Rotate() {
    ::close(fd_);
    ::rename(path_.c_str(), (path_ + ".1").c_str());
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    size_ = 0;
  }
  std::string path_;
  std::int64_t half_;
  int fd_ = -1;
  std::int64_t size_ = 0;
};

}  // namespace

std::string RuntimeVersion(const std::string& runtime) {
  CommandResult r = RunCommand({runtime, "--version"});
  std::istringstream in(r.output);
  std::string word, prev;
  while (in >> word) {
    if (prev == "version") return word;
    prev = word;
  }
  return "";
}

namespace {

// The message of the runtime's last log line (runc and crun write JSON).
std::string RuntimeError(const std::string& log_path) {
  std::ifstream in(log_path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  auto j = nlohmann::json::parse(last, nullptr, false);
  if (j.is_object() && j.contains("msg") && j["msg"].is_string())
    return j["msg"].get<std::string>();
  return last;
}

class Job {
 public:
  explicit Job(std::string dir) : dir_(std::move(dir)) {}
  ~Job() { Cleanup(); }
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  // Never throws: whatever goes wrong in sluss-run itself ends the job as
  // internal_error with the reason, its container stopped.
  JobResult Run() {
    try {
      return RunUnguarded();
    } catch (const std::exception& e) {
      const std::string what = e.what();
      try {
        KillAndDelete();
        Release(false);
        if (collected_.valid()) collected_.wait();
      } catch (const std::exception&) {
      }
      return Fail("internal_error", StrCat("sluss-run failed while supervising the job (", what,
                                           "); the job was stopped"));
    }
  }

  // Waits for the output file system's release; closes the OOM watch.
  // REQUIRES: Run returned.
  void Cleanup() {
    (void)AwaitOutputFs();
    if (releasing_.joinable()) releasing_.join();
    if (oom_fd_ >= 0) ::close(oom_fd_);
    oom_fd_ = -1;
    if (!spec_.gpus.empty()) UnmountJobLayer(dir_);
  }

 private:
  JobResult RunUnguarded() {
    result_.started_at = Now();
    auto spec = internal::ReadJson(dir_ + "/spec.json");
    if (!spec) return Fail("internal_error", spec.error().message);
    auto parsed = ParseRunSpec(*spec);
    if (!parsed) return Fail("internal_error", StrCat("spec.json: ", parsed.error().message));
    spec_ = std::move(*parsed);
    if (spec_.gpus_from_slurm > 0) {
      // A Slurm batch job: its GPUs are the ones Slurm allocated here.
      auto gpus = SlurmGpus(ProcessEnv(), spec_.gpus_from_slurm);
      if (!gpus) return Fail("internal_error", gpus.error().message);
      spec_.gpus = std::move(*gpus);
    }
    result_.runtime = fs::path(spec_.runtime).filename();
    result_.image_digest = spec_.image.digest;
    result_.output_fs = spec_.output_fs;
    result_.limit_milli_cpus = spec_.limits.milli_cpus;
    result_.limit_memory_bytes = spec_.limits.memory_bytes;
    result_.limit_time_seconds = spec_.limits.time_limit.count();
    result_.limit_output_bytes = spec_.limits.output_bytes;
    cgroup_version_ = DetectCgroupVersion(spec_.cgroup_root);
    result_.cgroup_version = Name(cgroup_version_);
    result_.runtime_version =
        spec_.runtime_version.empty() ? RuntimeVersion(spec_.runtime) : spec_.runtime_version;
    if (result_.runtime_version.empty())
      return Fail("internal_error", StrCat("the OCI runtime ", core::Quote(spec_.runtime),
                                           " does not run (is it installed?)"));

    if (auto r = Prepare(); !r) {
      Fail("internal_error", r.error().message);
      Finish();  // releases what Prepare made
      return result_;
    }
    Execute();
    Finish();
    return result_;
  }

  std::vector<std::string> Runtime(std::initializer_list<std::string> args) const {
    std::vector<std::string> argv = {spec_.runtime};
    if (!spec_.runtime_root.empty()) {
      argv.push_back("--root");
      argv.push_back(spec_.runtime_root);
    }
    argv.insert(argv.end(), {"--log", dir_ + "/runtime.log", "--log-format", "json"});
    argv.insert(argv.end(), args);
    return argv;
  }

  // The runtime has a container of this job: its state directory says so
  // without starting the runtime.
  bool ContainerExists() const {
    std::string root = spec_.runtime_root;
    if (root.empty())
      root = fs::path(spec_.runtime).filename() == "crun" ? "/run/crun" : "/run/runc";
    struct stat st;
    return ::stat((root + "/" + spec_.id).c_str(), &st) == 0;
  }

  JobResult Fail(const char* status, std::string message) {
    result_.status = status;
    result_.message = std::move(message);
    if (result_.ended_at.empty()) result_.ended_at = Now();
    return result_;
  }

  core::Result<void> Prepare() {
    // A container left by a supervisor that died must not run twice. (Its
    // state directory says so without starting the runtime.)
    if (ContainerExists())
      return core::Internal(StrCat("a container ", spec_.id,
                                   " already exists; this attempt was started before"));
    std::error_code ec;
    struct stat out_st;
    if (::lstat((spec_.workspace + "/output").c_str(), &out_st) == 0 && !S_ISDIR(out_st.st_mode))
      return core::Internal("output in the repository is not a directory (a symlink?); "
                            "output/ is where the job writes");
    fs::create_directories(spec_.workspace + "/output", ec);
    if (ec) return core::Internal(StrCat("cannot prepare the workspace: ", ec.message()));

    output_dir_ = dir_ + "/output-mnt";
    fs::create_directories(output_dir_, ec);
    if (spec_.output_fs == "loop") {
      const std::string image = dir_ + "/output.img";
      // Templates beside the jobs' directories (root's, like them).
      std::string parent = dir_;
      while (parent.size() > 1 && parent.back() == '/') parent.pop_back();
      const std::string templates = (fs::path(parent).parent_path() / ".output-fs").string();
      // Made and mounted on a thread of its own, beside the bundle's
      // making and the job's cgroup's (each about a millisecond, several on
      // a busy host); HandOverOutput waits for it.
      mounting_ = std::thread([this, image, templates] {
        mount_result_ = MakeExt4Image(image, spec_.limits.output_bytes, templates);
        if (mount_result_) mount_result_ = MountLoopImage(image, output_dir_);
      });
    }

    BundleInputs inputs{.output_dir = output_dir_,
                        .limit_kernel_tcp = cgroup_version_ == CgroupVersion::kV1};
    if (!spec_.gpus.empty()) {
      if (auto r = PrepareGpus(spec_, dir_, inputs, result_); !r) return r;
    }
    for (const auto& in : spec_.inputs) {
      struct stat st;
      if (::lstat(in.source.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        return core::Internal(StrCat("input ", in.path, " is missing on this host"));
    }
    fs::create_directories(dir_ + "/bundle", ec);
    nlohmann::json config = OciConfig(spec_, inputs);
    const std::string text = config.dump(2);
    result_.config_sha256 = Sha256Hex(text);
    result_.seccomp_sha256 = Sha256Hex(SeccompProfile().dump());
    if (auto r = internal::WriteFileReplace(dir_ + "/bundle/config.json", text); !r) return r;
    return {};
  }

  // The output file system mounted (see Prepare) and handed to the job's
  // uid: the last step before the runtime starts.
  core::Result<void> HandOverOutput() {
    if (auto m = AwaitOutputFs(); !m) return m;
    if (::chown(output_dir_.c_str(), spec_.uid, spec_.gid) != 0 ||
        ::chmod(output_dir_.c_str(), 0755) != 0)
      return core::Internal(StrCat("cannot hand the output directory to the job: ",
                                   std::strerror(errno)));
    return {};
  }

  // The container's first process, once the runtime has written its pid
  // file. kWatching: `pidfd` is readable when that process has exited.
  // kGone: it already has (a pid reused by another process means that the
  // container's was reaped). kLater: no pid file yet. kUnavailable: no
  // pidfds here; the outputs are then collected after the runtime's exit.
  enum class Watch { kLater, kWatching, kGone, kUnavailable };
  Watch WatchContainer(const std::string& pid_file, int& pidfd) {
    auto text = internal::ReadText(pid_file);
    const int pid = text ? std::atoi(text->c_str()) : 0;
    if (pid <= 0) return Watch::kLater;
    // (glibc 2.36's <sys/pidfd.h> declares pidfd_open without extern "C".)
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return errno == ESRCH ? Watch::kGone : Watch::kUnavailable;
    auto cgroups = internal::ReadText(StrCat("/proc/", pid, "/cgroup"));
    if (cgroups && cgroups->find(CgroupPath(spec_) + "/") == std::string::npos) {
      ::close(fd);
      return Watch::kGone;
    }
    pidfd = fd;  // ours, or gone between the two looks: the pidfd says which
    return Watch::kWatching;
  }

  // Collects the outputs (when `collect`) and then releases the output file
  // system (ext4's teardown and the loop device's, some milliseconds), on a
  // thread of its own: started when the container's processes are gone,
  // beside the runtime's own teardown, or else by Finish. Finish waits for
  // the collection, Cleanup for the release.
  // A job that sluss-run stopped (its time ran out, or it was cancelled)
  // keeps no outputs: they are unfinished, no job may read them, and
  // copying gigabytes of them would hold its end long past its limit.
  bool Collects() const { return !timed_out_ && !cancelled_; }

  void Release(bool collect) {
    if (releasing_.joinable()) return;
    auto collected = std::make_shared<std::promise<void>>();
    collected_ = collected->get_future();
    releasing_ = std::thread([this, collect, collected] {
      struct statvfs vfs;
      // Out of space, or out of inodes.
      if (mounted_ && ::statvfs(output_dir_.c_str(), &vfs) == 0)
        output_full_ = static_cast<std::int64_t>(vfs.f_bavail) *
                               static_cast<std::int64_t>(vfs.f_frsize) < kFullBelowBytes ||
                       vfs.f_favail == 0;
      if (collect) {
        // An exception here would end sluss-run (std::terminate) with no
        // result: it becomes the collection's error instead.
        try {
          std::vector<std::string> skip;
          for (const auto& in : spec_.inputs) skip.push_back(in.path);
          outputs_ = CollectOutputs(output_dir_, spec_.outputs, skip, dir_ + "/outputs",
                                    static_cast<std::uint64_t>(spec_.limits.output_bytes));
        } catch (const std::exception& e) {
          outputs_ = core::Internal(StrCat("collecting the outputs failed: ", e.what()));
        }
      }
      collected->set_value();
      if (mounted_) {
        UnmountIfMounted(output_dir_);
        ::unlink((dir_ + "/output.img").c_str());
      }
    });
  }

  // Waits for the output file system's making, if it was started; mounted_
  // then says whether it is mounted.
  core::Result<void> AwaitOutputFs() {
    if (mounting_.joinable()) {
      mounting_.join();
      mounted_ = mount_result_.has_value();
    }
    return mount_result_;
  }

  void Execute() {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);  // cancel now: KILL without a grace time
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    int sigfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);

    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
      Fail("internal_error", "cannot create pipes");
      return;
    }
    LogSink out_log(dir_ + "/stdout.log", spec_.limits.log_bytes);
    LogSink err_log(dir_ + "/stderr.log", spec_.limits.log_bytes);
    const std::string pid_file = dir_ + "/bundle/container.pid";
    // Only this attempt's runtime may write it: an earlier one's (a
    // supervisor that died before its result) would say that the job
    // started, and that it has ended.
    ::unlink(pid_file.c_str());
    // The job's cgroup, which outlives the runtime's (see HoldJobCgroup).
    auto held = HoldJobCgroup(spec_.cgroup_root, cgroup_version_, CgroupPath(spec_),
                              spec_.limits.memory_bytes);
    if (!held) {
      for (int fd : {out[0], out[1], err[0], err[1], sigfd}) ::close(fd);
      Fail("internal_error", held.error().message);
      return;
    }
    oom_fd_ = *held;
    held_ = true;
    if (auto h = HandOverOutput(); !h) {
      for (int fd : {out[0], out[1], err[0], err[1], sigfd}) ::close(fd);
      Fail("internal_error", h.error().message);
      return;
    }
    // One runtime process for the container's whole life (`run`: create,
    // start, wait, delete), as `runc run` alone: a Go runtime's start costs
    // some 5 ms of CPU, and a trivial job's whole sandbox costs little more
    // than a few of them. Its exit status is the job's; the figures stay in
    // the job's cgroup after the runtime removed its own.
    result_.started_at = Now();
    const auto t0 = Steady::now();
    const pid_t runtime = StartCommand(
        Runtime({"run", "--bundle", dir_ + "/bundle", "--pid-file", pid_file, spec_.id}), out[1],
        err[1]);
    ::close(out[1]);
    ::close(err[1]);
    if (runtime < 0) {
      Fail("internal_error", StrCat("cannot start the runtime: ", std::strerror(errno)));
      Drain(out[0], out_log);
      Drain(err[0], err_log);
      ::close(sigfd);
      return;
    }

    auto deadline = t0 + spec_.limits.time_limit;
    constexpr auto kNever = Steady::time_point::max();
    // A GPU job's GPUs, sampled through NVML while it runs.
    constexpr auto kGpuSampleEvery = std::chrono::seconds(5);
    auto sample_at = spec_.gpus.empty() ? kNever : t0;
    if (!spec_.gpus.empty()) {
      const std::string mark = CgroupPath(spec_) + "/";
      gpu_accounting_.emplace(MakeNvmlSampler(), spec_.gpus, [mark](int pid) {
        auto cgroups = internal::ReadText(StrCat("/proc/", pid, "/cgroup"));
        return cgroups && cgroups->find(mark) != std::string::npos;
      });
    }
    auto kill_at = kNever;
    // The container's end, before the runtime's: see WatchContainer.
    auto watch_at = t0 + std::chrono::milliseconds(2);
    int pidfd = -1;
    bool exited = false, out_open = true, err_open = true;
    int status = 0;
    struct rusage usage {};
    auto drain_until = kNever;
    while ((!exited || out_open || err_open)) {
      auto now = Steady::now();
      if (exited && drain_until == kNever) drain_until = now + std::chrono::seconds(2);
      if (now >= drain_until) break;
      if (!exited && !timed_out_ && now >= deadline) {
        timed_out_ = true;
        RunCommand(Runtime({"kill", spec_.id, "KILL"}));
      }
      if (!exited && now >= kill_at) {
        kill_at = kNever;
        RunCommand(Runtime({"kill", spec_.id, "KILL"}));
      }
      if (!exited && now >= sample_at) {
        gpu_accounting_->Sample();
        sample_at = Steady::now() + kGpuSampleEvery;
      }
      if (!exited && watch_at != kNever && now >= watch_at) {
        const Watch watch = WatchContainer(pid_file, pidfd);
        if (watch == Watch::kGone) Release(Collects());
        if (watch != Watch::kLater) {
          watch_at = kNever;
        } else {
          watch_at = now + (now - t0 < std::chrono::milliseconds(200) ? std::chrono::milliseconds(2)
                                                                      : std::chrono::milliseconds(50));
        }
      }
      auto next = std::min(drain_until, deadline);
      if (kill_at < next) next = kill_at;
      if (watch_at < next) next = watch_at;
      if (!exited && sample_at < next) next = sample_at;
      if (timed_out_ && !exited) next = now + std::chrono::seconds(1);
      auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count();
      wait_ms = std::clamp<std::int64_t>(wait_ms, 1, 1000);
      struct pollfd fds[4] = {{out_open ? out[0] : -1, POLLIN, 0},
                              {err_open ? err[0] : -1, POLLIN, 0},
                              {sigfd, POLLIN, 0},
                              {pidfd, POLLIN, 0}};
      if (::poll(fds, 4, static_cast<int>(wait_ms)) < 0 && errno != EINTR) break;
      if (pidfd >= 0 && fds[3].revents) {
        // The container's first process has exited, and with it (its PID
        // namespace) every process of the job: the outputs are final while
        // the runtime still deletes the container.
        ::close(pidfd);
        pidfd = -1;
        Release(Collects());
      }
      if (fds[0].revents) out_open = Pump(out[0], out_log);
      if (fds[1].revents) err_open = Pump(err[0], err_log);
      if (fds[2].revents) {
        signalfd_siginfo si;
        while (::read(sigfd, &si, sizeof si) == sizeof si) {
          if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) && !cancelled_ && !exited) {
            cancelled_ = true;
            RunCommand(Runtime({"kill", "--all", spec_.id, "TERM"}));
            kill_at = Steady::now() + spec_.limits.kill_grace;
          } else if (si.ssi_signo == SIGUSR1 && !exited) {
            cancelled_ = true;
            RunCommand(Runtime({"kill", "--all", spec_.id, "KILL"}));
            kill_at = Steady::now() + std::chrono::seconds(1);  // and again, should it linger
          }
        }
        for (;;) {
          int st = 0;
          struct rusage ru {};
          pid_t pid = ::wait4(-1, &st, WNOHANG, &ru);
          if (pid <= 0) break;
          if (pid == runtime) {
            exited = true;
            status = st;
            usage = ru;
          }
        }
      }
    }
    ::close(out[0]);
    ::close(err[0]);
    ::close(sigfd);
    if (pidfd >= 0) ::close(pidfd);
    if (gpu_accounting_) {
      gpu_accounting_->Sample();  // the energy counters' last reading
      gpu_accounting_->Finish(result_);
    }
    const auto t1 = Steady::now();
    result_.ended_at = Now();
    result_.wall_seconds = std::chrono::duration<double>(t1 - t0).count();
    if (!exited) {
      Fail("internal_error", "the runtime's process could not be waited for");
      KillAndDelete();
      return;
    }
    // No pid file: the runtime stopped before the job started; its log
    // says why. A runtime killed by a signal may have left the container.
    auto pid_text = internal::ReadText(pid_file);
    const bool started = pid_text && std::atoi(pid_text->c_str()) > 0;
    if (!started || WIFSIGNALED(status)) {
      Fail("internal_error",
           !started ? StrCat("the runtime could not start the container: ",
                             RuntimeError(dir_ + "/runtime.log"))
                    : StrCat("the runtime was killed by signal ", WTERMSIG(status)));
      KillAndDelete();
      return;
    }
    // The runtime exits with the job's exit code, or 128 + N when signal N
    // ended the job (as a shell reports it).
    const int code = WEXITSTATUS(status);
    if (code > 128 && code <= 128 + 64)
      result_.signal = code - 128;
    else
      result_.exit_code = code;
    result_.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                          static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  }

  // After a runtime that failed: no container may be left behind.
  void KillAndDelete() {
    if (!ContainerExists()) return;
    RunCommand(Runtime({"kill", spec_.id, "KILL"}));
    RunCommand(Runtime({"delete", "--force", spec_.id}));
  }

  static bool Pump(int fd, LogSink& sink) {
    char buf[65536];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) return errno == EINTR || errno == EAGAIN;
    if (n == 0) return false;
    sink.Write(buf, static_cast<std::size_t>(n));
    return true;
  }
  static void Drain(int fd, LogSink& sink) {
    while (Pump(fd, sink)) {
    }
    ::close(fd);
  }

  // The first few problems and how many more: a job with 20,000 bad
  // outputs does not make a message of megabytes.
  static std::string Summarize(const std::vector<std::string>& problems) {
    constexpr std::size_t kShown = 5;
    if (problems.size() <= kShown) return core::Join(problems, "; ");
    std::vector<std::string> first(problems.begin(), problems.begin() + kShown);
    return StrCat(core::Join(first, "; "), "; and ", problems.size() - kShown, " more");
  }

  void Finish() {
    (void)AwaitOutputFs();  // after an error in Prepare
    Release(result_.status.empty() && Collects());  // unless the container's end started it
    collected_.wait();
    std::vector<std::string> problems;
    bool over_limit = false;
    if (result_.status.empty() && outputs_) {
      if (!*outputs_) {
        problems.push_back(outputs_->error().message);
      } else {
        // The first of them; the manifest beside output/ lists them all.
        auto& files = (*outputs_)->files;
        result_.outputs_count = static_cast<std::int64_t>(files.size());
        result_.outputs_manifest_sha256 = (*outputs_)->manifest_sha256;
        for (const auto& f : files) result_.outputs_bytes += f.size;
        if (files.size() > core::kMaxListedOutputs) files.resize(core::kMaxListedOutputs);
        result_.outputs = std::move(files);
        problems = std::move((*outputs_)->problems);
        over_limit = (*outputs_)->over_limit;
      }
    }
    const bool full = output_full_;
    if (held_) {
      const std::string cgroup = CgroupPath(spec_);
      CgroupStats stats = ReadCgroupStats(spec_.cgroup_root, cgroup_version_, cgroup, oom_fd_);
      result_.memory_peak_bytes = stats.memory_peak_bytes;
      result_.pids_peak = stats.pids_peak;
      result_.oom_kills = stats.oom_kills;
      if (stats.cpu_usage_ns > 0) result_.cpu_seconds = static_cast<double>(stats.cpu_usage_ns) / 1e9;
      RemoveCgroupDirs(spec_.cgroup_root, cgroup_version_, cgroup);
    }
    // The runtime is gone: the job's layer over its image goes too.
    if (!spec_.gpus.empty()) UnmountJobLayer(dir_);

    if (!result_.status.empty()) return;  // an internal error said it already
    const bool failed = result_.signal || (result_.exit_code && *result_.exit_code != 0);
    if (cancelled_) {
      Fail("cancelled", "the job was cancelled");
    } else if (timed_out_) {
      Fail("timed_out", StrCat("the job ran past its time limit of ",
                               spec_.limits.time_limit.count(), " s and was killed"));
    } else if (result_.oom_kills > 0 && failed) {
      Fail("oom_killed", StrCat("the job ran out of memory (limit ",
                                spec_.limits.memory_bytes >> 20, " MiB) and was killed; ask for more "
                                "with resources.memory"));
    } else if (over_limit) {
      // Sparse files: small on the job's file system, whole when copied.
      Fail("output_limit", StrCat("the job's outputs are more than its ",
                                  spec_.limits.output_bytes >> 20,
                                  " MiB of output space (sparse files count in full); ",
                                  Summarize(problems)));
    } else if (failed && (full || (spec_.output_fs == "none" && result_.signal &&
                                   *result_.signal == SIGXFSZ))) {
      // Only a job that failed failed of its output space: one that wrote
      // close to its limit and exited 0 succeeded. (Without the output file
      // system, the per-file size limit is the bound, and SIGXFSZ says so.)
      Fail("output_limit", StrCat("the job wrote more than its ",
                                  spec_.limits.output_bytes >> 20,
                                  " MiB of output space"));
    } else if (failed) {
      Fail("nonzero_exit", result_.signal ? StrCat("the job was killed by signal ", *result_.signal)
                                          : StrCat("the job exited with code ", *result_.exit_code));
    } else if (!problems.empty()) {
      Fail("missing_outputs", Summarize(problems));
    } else {
      result_.status = "succeeded";
    }
  }

  std::string dir_;
  RunSpec spec_;
  JobResult result_;
  std::optional<GpuAccounting> gpu_accounting_;
  int oom_fd_ = -1;    // HoldJobCgroup's eventfd (v1)
  std::thread mounting_;
  core::Result<void> mount_result_;
  std::thread releasing_;               // Release
  std::future<void> collected_;         // Release has collected the outputs
  std::optional<core::Result<CollectedOutputs>> outputs_;
  bool output_full_ = false;
  CgroupVersion cgroup_version_ = CgroupVersion::kV1;
  std::string output_dir_;
  bool mounted_ = false;
  bool held_ = false;  // the job's cgroup was made
  bool timed_out_ = false;
  bool cancelled_ = false;
};

}  // namespace

JobResult Supervise(const std::string& job_dir) {
  // What the job's dependents read (its collected outputs) must be readable
  // by their uids; the job directory itself (0700) keeps the host out.
  ::umask(022);
  Job job(job_dir);
  JobResult result = job.Run();
  if (auto w = WriteResult(job_dir, result); !w) {
    result.status = "internal_error";
    result.message = w.error().message;
  }
  // After the result: nothing of the container is left when sluss-run
  // exits, but whoever waits for the result need not wait for this.
  job.Cleanup();
  return result;
}

}  // namespace sluss::sandbox
