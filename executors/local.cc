#include "executors/local.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/strings.h"
#include "executors/workspaces.h"
#include "logging/log.h"
#include "sandbox/image.h"
#include "sandbox/run_spec.h"
#include "sandbox/supervisor.h"

namespace sluss::executors {
namespace {

namespace fs = std::filesystem;
using core::StrCat;

// Job uids: one per job, never a host account, so that no two jobs share
// an owner for what they write.
constexpr std::uint32_t kUidSpan = 50000;

core::StatusCode CodeOf(const std::string& status) {
  if (status == "succeeded") return core::StatusCode::kSucceeded;
  if (status == "cancelled") return core::StatusCode::kCancelledByUser;
  if (auto code = core::ParseStatusCode(status); code && core::IsTerminal(*code)) return *code;
  return core::StatusCode::kInternalError;
}

}  // namespace

core::JobOutcome OutcomeOfResult(const core::JobResult& r) {
  core::JobOutcome o;
  o.status = CodeOf(r.status);
  o.message = r.message;
  o.exit_code = r.exit_code;
  o.started_at = core::ParseRfc3339(r.started_at);
  o.ended_at = core::ParseRfc3339(r.ended_at);
  o.result_json = core::ToJson(r).dump();
  return o;
}

namespace {

// Whether `dir` holds an attempt that a slussd from before attempt keys
// launched: its spec names no key. (A keyed spec in an unkeyed directory
// is never taken.)
bool LegacySpec(const std::string& dir) {
  std::ifstream in(dir + "/spec.json");
  if (!in) return false;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  auto spec = sandbox::ParseRunSpec(j);
  return spec && spec->attempt_key.empty();
}

}  // namespace

core::Result<core::LaunchRequest::Image> ResolveImage(const std::string& name,
                                                      const std::string& rootfs, bool host,
                                                      const std::string& host_dir) {
  if (host) {
    auto image = sandbox::MakeHostImage(host_dir);
    if (!image) return std::unexpected(image.error());
    return core::LaunchRequest::Image{name, image->digest, image->rootfs, image->host_binds};
  }
  // runc would create missing mount points inside the image, changing it.
  for (const char* dir : {"proc", "dev", "sys", "tmp", "workspace", "data"}) {
    std::error_code ec;
    if (!fs::is_directory(fs::path(rootfs) / dir, ec))
      return core::Fail(core::ErrorCode::kFailedPrecondition,
                        StrCat("image ", name, ": ", rootfs, " has no /", dir,
                               "; an image needs the mount points /proc /dev /sys /tmp "
                               "/workspace /data (scripts/build-image makes them)"));
  }
  // Per-file hashes cached by inode, size and mtime next to the host image.
  std::string cache = StrCat(fs::path(host_dir).parent_path().string(), "/", name, ".hashes.json");
  std::error_code ec;
  fs::create_directories(fs::path(cache).parent_path(), ec);
  auto digest = sandbox::ImageDigest(rootfs, nullptr, cache);
  if (!digest) return std::unexpected(digest.error());
  return core::LaunchRequest::Image{name, *digest, fs::absolute(rootfs).string(), {}};
}

struct LocalExecutor::Impl {
  LocalOptions options;
  Callbacks callbacks;
  std::string runtime_version;  // asked once
  int inotify_fd = -1;
  int stop_fd = -1;
  std::thread watcher;

  struct Watched {
    core::JobId job;
    int attempt = 1;
    int wd = -1;
  };
  std::mutex mu;
  std::map<std::string, Watched> watched;  // by job directory
  // Lost attempts whose clean-up failed: not tried again (each try asks the
  // runtime) before `next`, `wait` doubling up to a minute.
  struct Backoff {
    std::chrono::steady_clock::time_point next;
    std::chrono::seconds wait{1};
  };
  std::map<std::string, Backoff> cleanup_backoff;  // GUARDED_BY(mu), by job directory

  // The attempt's exported code, named in its spec.json, when it was the
  // attempt's own (an older slussd's): not needed once the job has ended
  // (its outputs, in the job's directory, stay). A workspace shared by the
  // commit's jobs is removed by the preparer's sweep once none needs it.
  // remove_all never follows a symlink out of it.
  static void RemoveWorkspace(const std::string& dir) {
    std::ifstream in(dir + "/spec.json");
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded()) return;
    auto spec = sandbox::ParseRunSpec(j);
    if (!spec || spec->workspace.empty() || Workspaces::IsShared(spec->workspace)) return;
    std::error_code ec;
    fs::remove_all(spec->workspace, ec);
  }

  void Watch(const std::string& dir, core::JobId job, int attempt) {
    std::lock_guard lock(mu);
    if (watched.contains(dir)) return;
    int wd = ::inotify_add_watch(inotify_fd, dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE);
    watched[dir] = {job, attempt, wd};
  }

  // Looks at `dirs` (all watched when empty) and reports the ended ones.
  void Sweep(const std::set<std::string>& only) {
    std::vector<std::pair<std::string, Watched>> todo;
    {
      std::lock_guard lock(mu);
      for (const auto& [dir, w] : watched)
        if (only.empty() || only.contains(dir)) todo.emplace_back(dir, w);
    }
    for (const auto& [dir, w] : todo) {
      sandbox::JobProbe probe = sandbox::ProbeJob(dir);
      std::optional<sandbox::JobResult> result;
      if (probe.state == sandbox::JobProbe::State::kFinished) {
        result = probe.result;
      } else if (probe.state == sandbox::JobProbe::State::kLost) {
        const auto now = std::chrono::steady_clock::now();
        {
          std::lock_guard lock(mu);
          auto b = cleanup_backoff.find(dir);
          if (b != cleanup_backoff.end() && now < b->second.next) continue;
        }
        auto cleaned = sandbox::CleanUpLost(dir);
        std::lock_guard lock(mu);
        if (cleaned) {
          result = *cleaned;
          cleanup_backoff.erase(dir);
        } else {
          Backoff& b = cleanup_backoff[dir];
          b.next = now + b.wait;
          b.wait = std::min<std::chrono::seconds>(b.wait * 2, std::chrono::seconds(60));
        }
      }
      if (!result) continue;
      {
        std::lock_guard lock(mu);
        auto it = watched.find(dir);
        if (it == watched.end()) continue;  // reported by another sweep
        if (it->second.wd >= 0) ::inotify_rm_watch(inotify_fd, it->second.wd);
        watched.erase(it);
        cleanup_backoff.erase(dir);
      }
      RemoveWorkspace(dir);  // first: a job reported ended has none left
      if (callbacks.finished) callbacks.finished(w.job, w.attempt, OutcomeOfResult(*result));
    }
  }

  void Run() {
    auto last_full = std::chrono::steady_clock::now();
    alignas(inotify_event) char buf[8192];
    for (;;) {
      struct pollfd fds[2] = {{inotify_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
      ::poll(fds, 2, 500);
      if (fds[1].revents) return;
      std::set<std::string> changed;
      if (fds[0].revents) {
        ssize_t n = ::read(inotify_fd, buf, sizeof buf);
        std::map<int, std::string> by_wd;
        {
          std::lock_guard lock(mu);
          for (const auto& [dir, w] : watched) by_wd[w.wd] = dir;
        }
        for (ssize_t off = 0; n > 0 && off < n;) {
          auto* ev = reinterpret_cast<inotify_event*>(buf + off);
          if (ev->len > 0 && std::string_view(ev->name) == "result.json")
            if (auto it = by_wd.find(ev->wd); it != by_wd.end()) changed.insert(it->second);
          off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
        }
      }
      if (!changed.empty()) Sweep(changed);
      auto now = std::chrono::steady_clock::now();
      if (now - last_full >= std::chrono::seconds(1)) {
        last_full = now;
        Sweep({});  // results that inotify missed, and lost supervisors
      }
    }
  }
};

LocalExecutor::LocalExecutor(LocalOptions options, Callbacks callbacks)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->callbacks = std::move(callbacks);
  impl_->runtime_version = sandbox::RuntimeVersion(impl_->options.runtime);
  impl_->inotify_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  impl_->stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::error_code ec;
  fs::create_directories(impl_->options.jobs_dir, ec);
  impl_->watcher = std::thread([impl = impl_.get()] { impl->Run(); });
}

LocalExecutor::~LocalExecutor() {
  std::uint64_t one = 1;
  (void)::write(impl_->stop_fd, &one, sizeof one);
  if (impl_->watcher.joinable()) impl_->watcher.join();
  ::close(impl_->inotify_fd);
  ::close(impl_->stop_fd);
}

std::string AttemptDir(const std::string& jobs_dir, core::JobId job, int attempt,
                       const std::string& key) {
  return key.empty() ? StrCat(jobs_dir, "/", job.value, "-", attempt)
                     : StrCat(jobs_dir, "/", job.value, "-", attempt, "-", key);
}

std::string FindAttemptDir(const std::string& jobs_dir, const core::Job& job, int attempt) {
  std::string dir = AttemptDir(jobs_dir, job.id, attempt, core::AttemptKey(job, attempt));
  std::error_code ec;
  if (fs::exists(dir, ec)) return dir;
  std::string legacy = AttemptDir(jobs_dir, job.id, attempt, "");
  return fs::exists(legacy, ec) ? legacy : dir;
}

core::Result<void> WriteAttemptSpec(const LocalOptions& o, const std::string& runtime_version,
                                    const core::LaunchRequest& r, const std::string& dir,
                                    bool gpus_from_slurm) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return core::Internal(StrCat("cannot make the job directory: ", ec.message()));
  ::chmod(dir.c_str(), 0700);
  const std::string spec_path = dir + "/spec.json";
  if (fs::exists(spec_path, ec)) return {};
  sandbox::RunSpec spec;
  spec.id = StrCat(o.container_prefix, "-", r.job.value, "-", r.attempt, "-",
                   r.attempt_key.substr(0, 8));
  spec.attempt_key = r.attempt_key;
  spec.runtime = o.runtime;
  spec.runtime_root = o.runtime_root;
  spec.runtime_version = runtime_version;
  spec.cgroup_root = o.cgroup_root;
  spec.cgroup_parent = o.cgroup_parent;
  spec.output_fs = o.output_fs;
  spec.image = {r.image.name, r.image.digest, r.image.rootfs, r.image.host_binds};
  spec.argv = r.argv;
  spec.env = r.env;
  spec.workspace = r.workspace;
  for (const auto& d : r.datasets) spec.datasets.push_back({d.name, d.version, d.path});
  for (const auto& in : r.inputs) spec.inputs.push_back({in.path, in.source});
  spec.outputs = r.outputs;
  // Exactly what the scheduler counted; a launch without them is refused
  // (ParseRunSpec: every limit must be positive), never run on defaults.
  spec.limits.milli_cpus = r.resources.milli_cpus;
  spec.limits.memory_bytes = r.resources.memory_bytes;
  spec.limits.time_limit = r.resources.time_limit;
  spec.limits.output_bytes = r.resources.disk_bytes;
  spec.limits.log_bytes = o.log_bytes;
  spec.limits.kill_grace = std::chrono::seconds(o.kill_grace_seconds);
  spec.uid = spec.gid = sandbox::kMinJobUid + static_cast<std::uint32_t>(r.job.value % kUidSpan);
  if (gpus_from_slurm)
    spec.gpus_from_slurm = r.resources.gpus;
  else
    spec.gpus = r.gpus;
  spec.cdi_spec = o.cdi_spec;
  if (auto valid = sandbox::ParseRunSpec(sandbox::ToJson(spec)); !valid)
    return core::Internal(StrCat("job spec: ", valid.error().message));
  return sandbox::WriteSpec(dir, spec);
}

namespace {

// A retry starts: the outputs of the job's earlier attempts go (their
// logs and result.json stay). No job reads them (dependents read a
// succeeded attempt's, and a succeeded job is not retried), and the
// project's disk counts the outputs of each job's latest attempt only, so
// kept, they would be disk no quota sees.
void RemoveEarlierOutputs(const std::string& jobs_dir, core::JobId job, int attempt) {
  std::error_code ec;
  const std::string prefix = StrCat(job.value, "-");
  for (const auto& e : fs::directory_iterator(jobs_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const std::string rest = name.substr(prefix.size());
    int earlier = 0;
    const auto [end, err] = std::from_chars(rest.data(), rest.data() + rest.size(), earlier);
    if (err != std::errc() || (end != rest.data() + rest.size() && *end != '-')) continue;
    if (earlier < 1 || earlier >= attempt) continue;
    std::error_code rm;
    fs::remove_all(e.path() / "outputs", rm);
    if (rm)
      logging::Log(logging::LogLevel::kWarn,
                   StrCat("job ", job.value, ": cannot remove the outputs of attempt ", earlier,
                          ": ", rm.message()));
  }
}

}  // namespace

core::Result<void> LocalExecutor::Launch(const core::LaunchRequest& r) {
  const LocalOptions& o = impl_->options;
  // Keyed: a directory that another job with the same id left (a restored
  // backup) is never this attempt's, whatever it holds.
  if (r.attempt_key.empty()) return core::Internal("a launch without an attempt key");
  const std::string dir = AttemptDir(o.jobs_dir, r.job, r.attempt, r.attempt_key);
  if (r.attempt > 1) RemoveEarlierOutputs(o.jobs_dir, r.job, r.attempt);
  if (auto w = WriteAttemptSpec(o, impl_->runtime_version, r, dir); !w) return w;
  impl_->Watch(dir, r.job, r.attempt);
  auto probe = sandbox::StartDetached(o.sluss_run, dir);
  if (!probe) return std::unexpected(probe.error());
  if (probe->state != sandbox::JobProbe::State::kRunning) impl_->Sweep({dir});
  return {};
}

core::Result<void> LocalExecutor::Cancel(core::JobId job, int attempt, CancelMode mode) {
  std::string dir;
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& [d, w] : impl_->watched)
      if (w.job == job && w.attempt == attempt) dir = d;
  }
  if (dir.empty()) return {};  // not running here (ended, or never launched)
  auto r = mode == CancelMode::kSupervisor ? sandbox::KillSupervisor(dir)
                                           : sandbox::CancelJob(dir, mode == CancelMode::kNow);
  if (!r && r.error().code == core::ErrorCode::kFailedPrecondition) return {};  // ended
  return r;
}

std::vector<core::RunningAttempt> LocalExecutor::Reattach(
    const std::vector<core::RunningAttempt>& running) {
  std::vector<core::RunningAttempt> never;
  for (const auto& a : running) {
    std::string dir = AttemptDir(impl_->options.jobs_dir, a.job, a.attempt, a.attempt_key);
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
      // Launched by a slussd from before attempt keys: its directory has
      // none, and it runs on.
      std::string legacy = AttemptDir(impl_->options.jobs_dir, a.job, a.attempt, "");
      if (fs::exists(legacy + "/spec.json", ec) && LegacySpec(legacy)) dir = legacy;
    }
    sandbox::JobProbe probe = sandbox::ProbeJob(dir);
    if (probe.state == sandbox::JobProbe::State::kNew) {
      never.push_back(a);
      continue;
    }
    impl_->Watch(dir, a.job, a.attempt);
  }
  impl_->Sweep({});
  return never;
}

std::vector<std::string> LocalExecutor::LogFiles(core::JobId job, int attempt,
                                                 const std::string& attempt_key,
                                                 const std::string& stream) const {
  if (stream != "stdout" && stream != "stderr") return {};
  std::string dir = AttemptDir(impl_->options.jobs_dir, job, attempt, attempt_key);
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    std::string legacy = AttemptDir(impl_->options.jobs_dir, job, attempt, "");
    if (!LegacySpec(legacy)) return {};
    dir = legacy;
  }
  const std::string base = StrCat(dir, "/", stream, ".log");
  std::vector<std::string> files;
  if (fs::exists(base + ".1", ec)) files.push_back(base + ".1");
  if (fs::exists(base, ec)) files.push_back(base);
  return files;
}

}  // namespace sluss::executors
