#include "sandbox/supervisor.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/strings.h"
#include "core/time.h"
#include "sandbox/cgroup.h"
#include "sandbox/internal/files.h"
#include "sandbox/job_layer.h"
#include "sandbox/loop_mount.h"
#include "sandbox/oci.h"
#include "sandbox/process.h"

extern char** environ;

namespace sluss::sandbox {
namespace {

using core::StrCat;

// RAII for a file descriptor.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string LockPath(const std::string& dir) { return dir + "/supervisor.lock"; }
std::string PidPath(const std::string& dir) { return dir + "/supervisor.pid"; }
std::string ResultPath(const std::string& dir) { return dir + "/result.json"; }

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::optional<JobResult> ReadResult(const std::string& dir) {
  auto j = internal::ReadJson(ResultPath(dir));
  if (!j) return std::nullopt;
  auto r = core::JobResultFromJson(*j);
  if (!r) return std::nullopt;
  return *r;
}

int ReadPid(const std::string& dir) {
  auto text = internal::ReadText(PidPath(dir));
  return text ? std::atoi(text->c_str()) : 0;
}

}  // namespace

const char* Name(JobProbe::State state) {
  switch (state) {
    case JobProbe::State::kNew: return "new";
    case JobProbe::State::kRunning: return "running";
    case JobProbe::State::kFinished: return "finished";
    case JobProbe::State::kLost: return "lost";
  }
  return "?";
}

JobProbe ProbeJob(const std::string& dir) {
  JobProbe probe;
  if (auto r = ReadResult(dir)) {
    probe.state = JobProbe::State::kFinished;
    probe.result = std::move(r);
    return probe;
  }
  int fd = ::open(LockPath(dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return probe;  // new
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    ::close(fd);
    probe.state = JobProbe::State::kRunning;
    probe.pid = ReadPid(dir);
    return probe;
  }
  ::close(fd);
  // The supervisor may have finished between the two looks.
  if (auto r = ReadResult(dir)) {
    probe.state = JobProbe::State::kFinished;
    probe.result = std::move(r);
    return probe;
  }
  probe.state = Exists(PidPath(dir)) ? JobProbe::State::kLost : JobProbe::State::kNew;
  return probe;
}

core::Result<JobProbe> StartDetached(const std::string& self, const std::string& dir) {
  int fd = ::open(LockPath(dir).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return core::Internal(StrCat("cannot open the job's lock: ", std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return ProbeJob(dir);  // running (or it just finished)
  }
  if (Exists(ResultPath(dir)) || Exists(PidPath(dir))) {
    // Finished, or started once and lost: never a second container.
    ::close(fd);
    return ProbeJob(dir);
  }
  const std::string log = dir + "/supervisor.log";
  // Started with posix_spawn (a vfork, in glibc), not fork: a fork of the
  // daemon copies its page tables, a cost that grows with its memory and
  // was 17% of slussd's CPU when launching trivial jobs. What the second
  // fork did (no child of the caller's left to reap, outliving it), the
  // supervisor does itself (--detach), a fork of a process of 2 MB.
  // The child gets: /dev/null as stdin, the log as stdout and stderr, the
  // lock as fd 3 (dup2 clears its close-on-exec), and nothing else of the
  // caller's (slussd's listening socket must not outlive slussd in a job).
  Fd lock{fd};
  Fd null{::open("/dev/null", O_RDWR | O_CLOEXEC)};
  Fd out{::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)};
  // Above 3, so that the dup2 onto 3 is a real one, which clears the flag.
  Fd lock_high{::fcntl(fd, F_DUPFD_CLOEXEC, 10)};
  if (null.fd < 0 || lock_high.fd < 0)
    return core::Internal(StrCat("cannot start the supervisor: ", std::strerror(errno)));
  const int log_fd = out.fd >= 0 ? out.fd : null.fd;
  const char* argv[] = {self.c_str(), "supervise", dir.c_str(), "--lock-fd", "3", "--detach",
                        nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, null.fd, 0);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 2);
  posix_spawn_file_actions_adddup2(&actions, lock_high.fd, 3);
  posix_spawn_file_actions_addclosefrom_np(&actions, 4);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSID);
  pid_t child = -1;
  const int rc = ::posix_spawn(&child, argv[0], &actions, &attr,
                               const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return core::Internal(StrCat("cannot start the supervisor ", self, ": ", std::strerror(rc)));
  // It returns once it has forked the supervisor (at once): the lock then
  // held by the supervisor's copy.
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return core::Internal(StrCat("the supervisor did not start (", dir, "/supervisor.log)"));
  JobProbe probe;
  probe.state = JobProbe::State::kRunning;
  return probe;
}

core::Result<void> CancelJob(const std::string& dir, bool now) {
  JobProbe probe = ProbeJob(dir);
  if (probe.state != JobProbe::State::kRunning || probe.pid <= 0)
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("the job is ", Name(probe.state), ", not running"));
  if (::kill(probe.pid, now ? SIGUSR1 : SIGTERM) != 0)
    return core::Internal(StrCat("cannot signal the supervisor: ", std::strerror(errno)));
  return {};
}

core::Result<void> KillSupervisor(const std::string& dir) {
  JobProbe probe = ProbeJob(dir);
  if (probe.state != JobProbe::State::kRunning || probe.pid <= 0)
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("the job is ", Name(probe.state), ", not running"));
  if (::kill(probe.pid, SIGKILL) != 0)
    return core::Internal(StrCat("cannot kill the supervisor: ", std::strerror(errno)));
  return {};
}

namespace {

// Why a supervisor that left no result most likely failed to write one: a
// full file system (its log says so, or nothing is left on it). Empty when
// nothing points there.
std::string NoSpaceCause(const std::string& dir) {
  std::ifstream log(dir + "/supervisor.log", std::ios::binary);
  if (log) {
    log.seekg(0, std::ios::end);
    const std::streamoff size = log.tellg();
    const std::streamoff from = size > 65536 ? size - 65536 : 0;
    log.seekg(from);
    std::string tail(static_cast<std::size_t>(size - from), '\0');
    log.read(tail.data(), static_cast<std::streamsize>(tail.size()));
    if (tail.find("No space left on device") != std::string::npos)
      return "No space left on device (its supervisor's log says so)";
  }
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) == 0 && st.f_bavail == 0)
    return "No space left on device (the job's file system is full)";
  return "";
}

}  // namespace

core::Result<JobResult> CleanUpLost(const std::string& dir) {
  int fd = ::open(LockPath(dir).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return core::Internal(StrCat("cannot open the job's lock: ", std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return core::Fail(core::ErrorCode::kFailedPrecondition, "the job's supervisor is running");
  }
  if (auto r = ReadResult(dir)) {
    ::close(fd);
    return *r;
  }
  JobResult result;
  result.status = "node_lost";
  result.message = "the job's supervisor stopped without a result (host restart or kill); "
                   "the job was stopped";
  if (const std::string cause = NoSpaceCause(dir); !cause.empty()) {
    // Not a lost host: the disk was full when the job's result was written.
    // Its own status, which `retries` does not rerun (core/job_state.h).
    result.status = "disk_full";
    result.message = StrCat("the job's result could not be written: ", cause,
                            "; free space on the job file system, then retry the job");
  }
  result.ended_at = core::FormatRfc3339(core::SystemClock().Now());
  auto spec_json = internal::ReadJson(dir + "/spec.json");
  if (spec_json) {
    if (auto spec = ParseRunSpec(*spec_json)) {
      std::vector<std::string> base = {spec->runtime};
      if (!spec->runtime_root.empty()) base.insert(base.end(), {"--root", spec->runtime_root});
      auto with = [&](std::initializer_list<std::string> args) {
        auto argv = base;
        argv.insert(argv.end(), args);
        return argv;
      };
      if (RunCommand(with({"state", spec->id})).ok()) {
        RunCommand(with({"kill", spec->id, "KILL"}));
        RunCommand(with({"delete", "--force", spec->id}));
      }
      auto version = DetectCgroupVersion(spec->cgroup_root);
      RemoveCgroupDirs(spec->cgroup_root, version, CgroupPath(*spec));
      UnmountJobLayer(dir);
      result.runtime = std::filesystem::path(spec->runtime).filename();
      result.image_digest = spec->image.digest;
      // What it ran under, and since about when (the spec is written at
      // launch): the record of a lost job says as much as can be known.
      result.limit_milli_cpus = spec->limits.milli_cpus;
      result.limit_memory_bytes = spec->limits.memory_bytes;
      result.limit_time_seconds = spec->limits.time_limit.count();
      result.limit_output_bytes = spec->limits.output_bytes;
      struct stat st;
      if (::stat((dir + "/spec.json").c_str(), &st) == 0) {
        const core::TimePoint launched = core::FromUnixMillis(
            std::int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1'000'000);
        result.started_at = core::FormatRfc3339(launched);
        result.wall_seconds =
            std::chrono::duration<double>(core::SystemClock().Now() - launched).count();
      }
    }
  }
  const std::string mnt = dir + "/output-mnt";
  UnmountIfMounted(mnt);
  ::unlink((dir + "/output.img").c_str());
  // A result that cannot be written here (a full disk) is still handed
  // back: slussd's database is its record, and a clean-up that fails would
  // be tried again and again, asking the runtime each time.
  if (auto w = WriteResult(dir, result); !w)
    result.message += StrCat(" (result.json could not be written either: ", w.error().message, ")");
  ::close(fd);
  return result;
}

core::Result<void> WriteSpec(const std::string& dir, const RunSpec& spec) {
  return internal::WriteFileAtomic(dir + "/spec.json", ToJson(spec).dump(2) + "\n");
}

core::Result<void> WriteResult(const std::string& dir, const JobResult& result) {
  // Renamed into place, whole or absent, but not synced: the outcome's
  // durable record is slussd's database, which reads this file in the page
  // cache. What a host crash may lose is only a result slussd had not read
  // yet, and a result lost, or left half-written (it then does not parse),
  // is a job whose supervisor vanished: node_lost, which `retries` can
  // retry. The outputs it names are synced before it is written
  // (CollectOutputs), so a result that survives a crash names outputs that
  // did. Two disk flushes fewer per job (1 to 10 ms each here).
  // Text that is not UTF-8 (a job's bytes in a message) is replaced, never
  // thrown on: a result that cannot be written is a job lost.
  std::string text;
  try {
    text = ToJson(result).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const std::exception& e) {
    JobResult failed;
    failed.status = "internal_error";
    failed.message = StrCat("sluss-run could not write the job's result: ", e.what());
    failed.started_at = result.started_at;
    failed.ended_at = result.ended_at;
    text = ToJson(failed).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return internal::WriteFileReplace(ResultPath(dir), text + "\n");
}

}  // namespace sluss::sandbox
