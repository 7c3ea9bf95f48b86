#include "executors/slurm.h"

#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "core/strings.h"
#include "executors/internal/slurm_cli.h"
#include "executors/workspaces.h"
#include "sandbox/run_spec.h"
#include "sandbox/supervisor.h"

namespace sluss::executors {
namespace {

namespace fs = std::filesystem;
using core::StrCat;
using internal::Phase;
using internal::SlurmJob;
using Steady = std::chrono::steady_clock;

// The largest output read from one command: squeue of every job of a big
// cluster's user fits many times over. Past it the command counts as
// failed, so that nothing is judged on a cut list.
constexpr std::size_t kMaxOutput = std::size_t{64} << 20;

class ProcessRunner final : public SlurmRunner {
 public:
  Output Run(const std::vector<std::string>& argv) override {
    // A client that waits on an unreachable slurmctld (sbatch retries for
    // long) must not hold the engine: at most a minute, then an error.
    std::vector<std::string> limited = {"timeout", "-k", "5", "60"};
    limited.insert(limited.end(), argv.begin(), argv.end());
    std::vector<char*> args;
    for (auto& a : limited) args.push_back(a.data());
    args.push_back(nullptr);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return {-1, StrCat("pipe: ", std::strerror(errno))};
    // posix_spawn (vfork-like): slussd is large and has many threads.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      return {-1, StrCat("cannot run ", argv[0], ": ", std::strerror(rc))};
    }
    Output out;
    bool cut = false;
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (out.text.size() + static_cast<std::size_t>(n) > kMaxOutput)
        cut = true;
      else
        out.text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (out.status == 124) out.text += "(no answer within 60 s)";
    if (cut && out.status == 0) {
      out.status = 1;
      out.text = StrCat(argv[0], " printed more than ", kMaxOutput >> 20, " MiB");
    }
    return out;
  }
};

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Atomically: a temporary file, fsync, rename, fsync of the directory. The
// intent must be on disk before sbatch runs.
core::Result<void> WriteDurably(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return core::Internal(StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    return core::Internal(StrCat("cannot write ", path, ": ", std::strerror(errno)));
  int dfd = ::open(fs::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

// The attempt's Slurm record in its directory: written before sbatch
// (the intent: name, no id) and again with the id sbatch gave.
constexpr const char* kIntentFile = "slurm.json";

struct Intent {
  std::string name;
  std::string id;
  std::int64_t submitted_at = 0;  // seconds since the epoch
};

std::optional<Intent> ReadIntent(const std::string& dir) {
  auto text = ReadFile(dir + "/" + kIntentFile);
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  Intent i;
  i.name = j.value("name", "");
  i.id = j.value("job_id", "");
  i.submitted_at = j.value("submitted_at", std::int64_t{0});
  return i;
}

core::Result<void> WriteIntent(const std::string& dir, const Intent& i) {
  nlohmann::json j = {{"name", i.name}, {"job_id", i.id}, {"submitted_at", i.submitted_at}};
  return WriteDurably(dir + "/" + kIntentFile, j.dump() + "\n", 0600);
}

std::optional<core::JobResult> ReadResult(const std::string& dir) {
  auto text = ReadFile(dir + "/result.json");
  if (!text) return std::nullopt;
  auto r = core::ParseJobResult(*text);
  if (!r) return std::nullopt;
  return *r;
}

// The attempt's exported code (named in its spec), when it was the
// attempt's own (an older slussd's): not needed once it ended. A shared one
// is the preparer's sweep's (Workspaces).
void RemoveWorkspace(const std::string& dir) {
  auto text = ReadFile(dir + "/spec.json");
  if (!text) return;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) return;
  auto spec = sandbox::ParseRunSpec(j);
  if (!spec || spec->workspace.empty() || Workspaces::IsShared(spec->workspace)) return;
  std::error_code ec;
  fs::remove_all(spec->workspace, ec);
}

std::int64_t EpochSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::unique_ptr<SlurmRunner> MakeProcessRunner() { return std::make_unique<ProcessRunner>(); }

struct SlurmExecutor::Impl {
  SlurmOptions options;
  Callbacks callbacks;
  std::unique_ptr<SlurmRunner> runner;
  std::string runtime_version;
  std::string user;  // slussd's, whose Slurm jobs are sluss's
  internal::SubmitSettings submit;

  struct Tracked {
    core::JobId job;
    int attempt = 1;
    std::string dir, name, id;
    std::int64_t submitted_at = 0;
    std::string state, reason;  // Slurm's, last seen
    bool started = false;
    std::optional<Steady::time_point> missing_since, ended_since, result_since;
    std::optional<CancelMode> cancel;
  };
  std::mutex runner_mu;  // one command at a time through the runner
  std::mutex mu;
  std::map<std::pair<std::int64_t, int>, Tracked> tracked;  // GUARDED_BY(mu)
  // Nodes that failed a job's attempts: its next ones exclude them.
  std::map<std::int64_t, std::set<std::string>> failed_nodes;  // GUARDED_BY(mu)
  bool accounting = true;       // GUARDED_BY(mu); off once sacct says it is disabled
  bool squeue_failing = false;  // GUARDED_BY(mu); logged once per outage

  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;  // GUARDED_BY(stop_mu)
  std::thread poller;

  static std::pair<std::int64_t, int> Key(core::JobId job, int attempt) {
    return {job.value, attempt};
  }

  SlurmRunner::Output Run(const std::vector<std::string>& argv) {
    std::lock_guard lock(runner_mu);
    return runner->Run(argv);
  }

  void Log(const std::string& m) {
    if (options.log) options.log(m);
  }

  std::string Dir(core::JobId job, int attempt, const std::string& key) const {
    return AttemptDir(options.node.jobs_dir, job, attempt, key);
  }

  // Slurm's jobs of this installation, by name; nullopt when squeue failed.
  std::optional<std::map<std::string, SlurmJob>> Squeue(const std::vector<std::string>& names) {
    // --me always: another Slurm user may name a job as sluss would (a
    // name is no secret); only sluss's own user's jobs are sluss's.
    std::vector<std::string> argv = {
        "squeue", "--me", "-h", "-t", "all", "-o", internal::kSqueueFormat};
    if (!names.empty()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ",") + n;
      argv.push_back("--name=" + list);
    }
    auto out = Run(argv);
    if (out.status != 0) {
      std::lock_guard lock(mu);
      if (!squeue_failing) Log(StrCat("slurm: squeue failed (", out.status, "): ", out.text));
      squeue_failing = true;
      return std::nullopt;
    }
    {
      std::lock_guard lock(mu);
      if (squeue_failing) Log("slurm: squeue answers again");
      squeue_failing = false;
    }
    std::map<std::string, SlurmJob> by_name;
    for (auto& j : internal::ParseJobList(out.text)) {
      if (!internal::IsOurs(options.node.container_prefix, j.name)) continue;
      auto it = by_name.find(j.name);
      // Two jobs of one name (never sluss's doing): the newest.
      if (it == by_name.end() || std::stoll(j.id) > std::stoll(it->second.id))
        by_name[j.name] = std::move(j);
    }
    return by_name;
  }

  // What accounting knows of `names` since `since`; empty without it.
  std::map<std::string, SlurmJob> Sacct(const std::vector<std::string>& names, std::int64_t since) {
    {
      std::lock_guard lock(mu);
      if (!accounting || names.empty()) return {};
    }
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ",") + n;
    // An explicit window: sacct's default starts at midnight.
    auto start =
        std::chrono::system_clock::time_point(std::chrono::seconds(since)) - std::chrono::hours(1);
    auto out = Run({"sacct", "-X", "-n", "-P", "--name=" + list,
                    "--starttime=" + internal::SacctTime(start), "-o", internal::kSacctFields});
    if (out.status != 0) {
      if (out.text.find("disabled") != std::string::npos) {
        std::lock_guard lock(mu);
        accounting = false;
        Log("slurm: accounting is disabled; jobs that leave squeue are judged by their result");
      }
      return {};
    }
    std::map<std::string, SlurmJob> by_name;
    for (auto& j : internal::ParseJobList(out.text)) {
      auto it = by_name.find(j.name);
      if (it == by_name.end() || std::stoll(j.id) > std::stoll(it->second.id))
        by_name[j.name] = std::move(j);
    }
    return by_name;
  }

  void Track(Tracked t) {
    std::lock_guard lock(mu);
    tracked.emplace(Key(t.job, t.attempt), std::move(t));
  }

  // Reports the attempt ended, once.
  void Finish(core::JobId job, int attempt, core::JobOutcome outcome) {
    std::string dir;
    {
      std::lock_guard lock(mu);
      auto it = tracked.find(Key(job, attempt));
      if (it == tracked.end()) return;
      dir = it->second.dir;
      tracked.erase(it);
    }
    RemoveWorkspace(dir);
    if (callbacks.finished) callbacks.finished(job, attempt, outcome);
  }

  core::JobOutcome FromResult(const core::JobResult& r, const Tracked& t) {
    core::JobOutcome o = OutcomeOfResult(r);
    if (o.status != core::StatusCode::kSucceeded && !t.cancel &&
        (internal::NodeFailed(t.state) || t.state == "PREEMPTED")) {
      // Its node went down (or was taken back) under it, whatever sluss-run
      // managed to say: lost, and retried elsewhere.
      o.status = core::StatusCode::kNodeLost;
      o.message =
          StrCat("Slurm job ", t.id, " ended with ", t.state, " on its node (", o.message, ")");
      return o;
    }
    // Slurm's limit came first (sluss-run was stopped by it and reports a
    // cancel): the job ran out of time.
    if (o.status == core::StatusCode::kCancelledByUser && !t.cancel &&
        (t.state == "TIMEOUT" || t.state == "DEADLINE")) {
      o.status = core::StatusCode::kTimedOut;
      o.message = StrCat("Slurm job ", t.id, " ended at its Slurm time limit");
    } else if (o.status == core::StatusCode::kCancelledByUser && !t.cancel &&
               t.state == "CANCELLED") {
      o.status = core::StatusCode::kKilledByAdmin;
      o.message = StrCat("Slurm job ", t.id, " was cancelled in Slurm, not by sluss");
    }
    return o;
  }

  // An attempt Slurm says ended: its result, else (after result_grace, for
  // a result.json still on its way over the shared file system) Slurm's word.
  void Ended(const Tracked& t, const SlurmJob& sj, Steady::time_point now) {
    if (internal::NodeFailed(sj.state) && !sj.nodes.empty()) {
      std::lock_guard lock(mu);
      failed_nodes[t.job.value].insert(sj.nodes);
    }
    if (auto r = ReadResult(t.dir)) return Finish(t.job, t.attempt, FromResult(*r, t));
    {
      std::lock_guard lock(mu);
      auto it = tracked.find(Key(t.job, t.attempt));
      if (it == tracked.end()) return;
      if (!it->second.ended_since) it->second.ended_since = now;
      if (now - *it->second.ended_since < options.result_grace) return;
    }
    Finish(t.job, t.attempt, internal::OutcomeOfSlurm(sj, t.cancel));
  }

  void Poll(Steady::time_point now) {
    std::vector<Tracked> todo;
    {
      std::lock_guard lock(mu);
      for (const auto& [k, t] : tracked) todo.push_back(t);
    }
    if (todo.empty()) return;
    // result.json first: the authority, and no load on slurmctld.
    std::vector<Tracked> open;
    for (auto& t : todo) {
      auto r = ReadResult(t.dir);
      // A failure sluss did not cause may be Slurm's doing (its time limit,
      // an admin's scancel, the node going down under the job): Slurm's
      // state, read below in the same poll, says which.
      if (r && (r->status == "succeeded" || t.cancel))
        Finish(t.job, t.attempt, FromResult(*r, t));
      else
        open.push_back(std::move(t));
    }
    if (open.empty()) return;
    auto queue = Squeue({});
    if (!queue) return;  // slurmctld away: nothing is judged on silence
    std::vector<Tracked> missing;
    for (auto& t : open) {
      auto it = queue->find(t.name);
      if (it == queue->end()) {
        missing.push_back(std::move(t));
        continue;
      }
      Seen(t, it->second, now);
    }
    if (missing.empty()) return;
    std::vector<std::string> names;
    std::int64_t since = EpochSeconds();
    for (const auto& t : missing) {
      names.push_back(t.name);
      if (t.submitted_at > 0)
        since = std::min(since, t.submitted_at);
      else
        since = std::min<std::int64_t>(since, EpochSeconds() - 7 * 86400);
    }
    auto acct = Sacct(names, since);
    for (auto& t : missing) {
      if (auto it = acct.find(t.name); it != acct.end()) {
        Seen(t, it->second, now);
        continue;
      }
      bool lost = false;
      {
        std::lock_guard lock(mu);
        auto it = tracked.find(Key(t.job, t.attempt));
        if (it == tracked.end()) continue;
        if (!it->second.missing_since) it->second.missing_since = now;
        lost = now - *it->second.missing_since >= options.lost_grace;
      }
      if (!lost) continue;
      // A supervisor holds the attempt's lock: it runs, outside Slurm's
      // view (started by the local executor before the switch to Slurm).
      if (sandbox::ProbeJob(t.dir).state == sandbox::JobProbe::State::kRunning) {
        std::lock_guard lock(mu);
        if (auto it = tracked.find(Key(t.job, t.attempt)); it != tracked.end())
          it->second.missing_since.reset();
        continue;
      }
      if (auto r = ReadResult(t.dir)) {
        Finish(t.job, t.attempt, FromResult(*r, t));
        continue;
      }
      core::JobOutcome o;
      o.status = core::StatusCode::kNodeLost;
      o.message = t.id.empty() ? StrCat("Slurm has no job named ", t.name, " and it left no result")
                               : StrCat("Slurm job ", t.id,
                                        " is known to neither squeue nor sacct and left no result");
      Finish(t.job, t.attempt, o);
    }
  }

  // Slurm knows the attempt as `sj`.
  void Seen(const Tracked& t, const SlurmJob& sj, Steady::time_point now) {
    const Phase phase = internal::PhaseOf(sj.state);
    bool started = false, reason_changed = false;
    Tracked copy;
    {
      std::lock_guard lock(mu);
      auto it = tracked.find(Key(t.job, t.attempt));
      if (it == tracked.end()) return;
      Tracked& m = it->second;
      m.missing_since.reset();
      if (m.id.empty()) {
        m.id = sj.id;
        (void)WriteIntent(m.dir, {m.name, m.id, m.submitted_at});
      }
      m.state = sj.state;
      // "None": Slurm has not looked at it yet; nothing to tell.
      if (phase == Phase::kPending && m.reason != sj.reason && sj.reason != "None") {
        m.reason = sj.reason;
        reason_changed = true;
      }
      if (phase == Phase::kRunning && !m.started) {
        m.started = true;
        started = true;
      }
      copy = m;
    }
    if (reason_changed && options.pending) options.pending(t.job, t.attempt, sj.reason);
    if (started && callbacks.started) callbacks.started(t.job, t.attempt);
    if (phase == Phase::kEnded) return Ended(copy, sj, now);
    // A result, and Slurm still holds the job (sluss-run exiting, the
    // node's epilog): after result_grace the result stands on its own.
    if (auto r = ReadResult(t.dir)) {
      {
        std::lock_guard lock(mu);
        auto it = tracked.find(Key(t.job, t.attempt));
        if (it == tracked.end()) return;
        if (!it->second.result_since) it->second.result_since = now;
        if (now - *it->second.result_since < options.result_grace) return;
      }
      Finish(t.job, t.attempt, FromResult(*r, copy));
    }
  }

  void Loop() {
    for (;;) {
      {
        std::unique_lock lock(stop_mu);
        if (stop_cv.wait_for(lock, options.poll_interval, [this] { return stopping; })) return;
      }
      Poll(Steady::now());
    }
  }
};

SlurmExecutor::SlurmExecutor(SlurmOptions options, Callbacks callbacks,
                             std::unique_ptr<SlurmRunner> runner)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->callbacks = std::move(callbacks);
  impl_->runner = std::move(runner);
  impl_->runtime_version = sandbox::RuntimeVersion(impl_->options.node.runtime);
  if (const passwd* pw = ::getpwuid(::geteuid()))
    impl_->user = pw->pw_name;
  else
    impl_->user = std::to_string(::geteuid());
  impl_->accounting = impl_->options.accounting != "none";
  auto& s = impl_->submit;
  s.partition = impl_->options.partition;
  s.account = impl_->options.account;
  s.qos = impl_->options.qos;
  s.memory_overhead_bytes = impl_->options.memory_overhead_bytes;
  s.kill_grace_seconds = impl_->options.node.kill_grace_seconds;
  std::error_code ec;
  fs::create_directories(impl_->options.node.jobs_dir, ec);
  if (impl_->options.poll_interval.count() > 0)
    impl_->poller = std::thread([impl = impl_.get()] { impl->Loop(); });
}

SlurmExecutor::~SlurmExecutor() {
  {
    std::lock_guard lock(impl_->stop_mu);
    impl_->stopping = true;
  }
  impl_->stop_cv.notify_all();
  if (impl_->poller.joinable()) impl_->poller.join();
}

void SlurmExecutor::PollOnce() { impl_->Poll(Steady::now()); }

core::Result<void> SlurmExecutor::Launch(const core::LaunchRequest& r) {
  Impl& m = *impl_;
  if (r.attempt_key.empty()) return core::Internal("a launch without an attempt key");
  {
    std::lock_guard lock(m.mu);
    if (m.tracked.contains(Impl::Key(r.job, r.attempt))) return {};
  }
  const std::string dir = m.Dir(r.job, r.attempt, r.attempt_key);
  if (auto w = WriteAttemptSpec(m.options.node, m.runtime_version, r, dir); !w) return w;
  if (auto w = WriteDurably(dir + "/job.sbatch",
                            internal::BatchScript(m.options.node.sluss_run, dir), 0700);
      !w)
    return w;
  Impl::Tracked t;
  t.job = r.job;
  t.attempt = r.attempt;
  t.dir = dir;
  t.name = internal::JobName(m.options.node.container_prefix, r.job, r.attempt, r.attempt_key);
  if (ReadResult(dir)) {  // ran to the end already: the poll reports it
    m.Track(std::move(t));
    return {};
  }
  if (auto intent = ReadIntent(dir)) {
    // An earlier slussd may have submitted it and died before recording
    // the id: find it by name before submitting anything.
    t.submitted_at = intent->submitted_at;
    t.id = intent->id;
    auto found = m.Squeue({t.name});
    if (!found) {
      // Cannot tell now: watch it; the poll finds it by name, or reports it
      // lost after the grace period (and sluss retries as a new attempt).
      m.Track(std::move(t));
      return {};
    }
    auto it = found->find(t.name);
    std::map<std::string, SlurmJob> acct;
    if (it == found->end())
      acct = m.Sacct({t.name}, t.submitted_at > 0 ? t.submitted_at : EpochSeconds() - 7 * 86400);
    if (it != found->end() || acct.contains(t.name)) {
      const SlurmJob& sj = it != found->end() ? it->second : acct.at(t.name);
      t.id = sj.id;
      (void)WriteIntent(dir, {t.name, t.id, t.submitted_at});
      m.Log(StrCat("slurm: job ", r.job.value, " attempt ", r.attempt, " found as Slurm job ",
                   sj.id, " (", sj.state, "); not submitted again"));
      m.Track(std::move(t));
      return {};
    }
    // Unknown to Slurm. A supervisor that ran (its lock or pid is there)
    // means it was submitted and ran: its result, or lost after the grace.
    if (sandbox::ProbeJob(dir).state != sandbox::JobProbe::State::kNew) {
      m.Track(std::move(t));
      return {};
    }
  }
  std::set<std::string> exclude;
  {
    std::lock_guard lock(m.mu);
    if (auto it = m.failed_nodes.find(r.job.value); it != m.failed_nodes.end())
      exclude = it->second;
  }
  t.submitted_at = EpochSeconds();
  if (auto w = WriteIntent(dir, {t.name, "", t.submitted_at}); !w) return w;
  auto out = m.Run(internal::SbatchArgs(m.submit, r, t.name, dir, exclude));
  std::string id = out.status == 0 ? internal::ParseSbatchId(out.text) : "";
  if (id.empty() && !exclude.empty()) {
    // Without the failed nodes nothing fits (a small partition): those
    // nodes may be back; Slurm places it, or says why it waits.
    (void)m.Run({"scancel", "--user=" + m.user, "--name=" + t.name});
    m.Log(StrCat("slurm: job ", r.job.value, " attempt ", r.attempt, " does not fit without ",
                 "the nodes that failed it; submitted without --exclude"));
    out = m.Run(internal::SbatchArgs(m.submit, r, t.name, dir, {}));
    id = out.status == 0 ? internal::ParseSbatchId(out.text) : "";
  }
  if (id.empty()) {
    // sbatch may have failed after slurmctld took the job: make sure
    // nothing of this attempt runs before reporting it failed.
    (void)m.Run({"scancel", "--user=" + m.user, "--name=" + t.name});
    std::string text = out.text;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return core::Fail(core::ErrorCode::kUnavailable,
                      StrCat("sbatch refused the job (exit ", out.status, "): ", text));
  }
  t.id = id;
  (void)WriteIntent(dir, {t.name, t.id, t.submitted_at});
  t.state = "PENDING";
  m.Track(std::move(t));
  return {};
}

core::Result<void> SlurmExecutor::Cancel(core::JobId job, int attempt, CancelMode mode) {
  Impl& m = *impl_;
  Impl::Tracked t;
  {
    std::lock_guard lock(m.mu);
    auto it = m.tracked.find(Impl::Key(job, attempt));
    if (it == m.tracked.end()) return {};  // not running here
    it->second.cancel = mode;
    t = it->second;
  }
  std::vector<std::string> target = {"scancel", t.id};
  if (t.id.empty()) target = {"scancel", "--user=" + m.user, "--name=" + t.name};
  if (!t.id.empty() && mode != CancelMode::kSupervisor &&
      internal::PhaseOf(t.state) == Phase::kRunning) {
    // To sluss-run (the batch script execs it): TERM cancels with the kill
    // grace, USR1 kills at once; it writes the result and the job ends.
    auto out = m.Run(
        {"scancel", "--batch", mode == CancelMode::kNow ? "--signal=USR1" : "--signal=TERM", t.id});
    if (out.status == 0) return {};
  }
  auto out = m.Run(target);
  if (out.status != 0)
    return core::Fail(
        core::ErrorCode::kUnavailable,
        StrCat("scancel ", target.back(), " failed (exit ", out.status, "): ", out.text));
  return {};
}

std::vector<core::RunningAttempt> SlurmExecutor::Reattach(
    const std::vector<core::RunningAttempt>& running) {
  Impl& m = *impl_;
  std::vector<core::RunningAttempt> never;
  std::vector<Impl::Tracked> unsure;  // intent without an id
  for (const auto& a : running) {
    Impl::Tracked t;
    t.job = a.job;
    t.attempt = a.attempt;
    t.dir = m.Dir(a.job, a.attempt, a.attempt_key);
    t.name = internal::JobName(m.options.node.container_prefix, a.job, a.attempt, a.attempt_key);
    auto intent = ReadIntent(t.dir);
    if (!intent && !ReadResult(t.dir) &&
        sandbox::ProbeJob(t.dir).state == sandbox::JobProbe::State::kNew) {
      never.push_back(a);  // sbatch never ran for it, nor any supervisor
      continue;
    }
    if (intent) {
      t.id = intent->id;
      t.submitted_at = intent->submitted_at;
    }
    if (!intent || !t.id.empty()) {
      m.Track(std::move(t));
    } else {
      unsure.push_back(std::move(t));
    }
  }
  if (!unsure.empty()) {
    // One squeue for all of them: which were submitted before the crash.
    auto queue = m.Squeue({});
    std::vector<std::string> names;
    std::int64_t since = EpochSeconds();
    for (const auto& t : unsure) {
      names.push_back(t.name);
      if (t.submitted_at > 0) since = std::min(since, t.submitted_at);
    }
    auto acct = queue ? m.Sacct(names, since) : std::map<std::string, SlurmJob>{};
    for (auto& t : unsure) {
      const bool known = queue && (queue->contains(t.name) || acct.contains(t.name));
      if (queue && !known && sandbox::ProbeJob(t.dir).state == sandbox::JobProbe::State::kNew) {
        // Not submitted before the crash: launched again (once).
        for (const auto& a : running)
          if (a.job == t.job && a.attempt == t.attempt) never.push_back(a);
        continue;
      }
      if (queue && queue->contains(t.name))
        m.Log(StrCat("slurm: job ", t.job.value, " attempt ", t.attempt, " found as Slurm job ",
                     queue->at(t.name).id, " after a restart; not submitted again"));
      m.Track(std::move(t));
    }
  }
  m.Poll(Steady::now());
  return never;
}

std::vector<std::string> SlurmExecutor::LogFiles(core::JobId job, int attempt,
                                                 const std::string& attempt_key,
                                                 const std::string& stream) const {
  if (stream != "stdout" && stream != "stderr") return {};
  const std::string base = StrCat(impl_->Dir(job, attempt, attempt_key), "/", stream, ".log");
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::exists(base + ".1", ec)) files.push_back(base + ".1");
  if (fs::exists(base, ec)) files.push_back(base);
  return files;
}

}  // namespace sluss::executors
