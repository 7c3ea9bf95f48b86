#include "executors/slurm.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/strings.h"
#include "executors/internal/slurm_cli.h"
#include "executors/internal/slurm_io.h"
#include "sandbox/supervisor.h"

namespace sluss::executors {
namespace {

namespace fs = std::filesystem;
using core::StrCat;
using internal::EpochSeconds;
using internal::Phase;
using internal::ReadIntent;
using internal::ReadResult;
using internal::RemoveWorkspace;
using internal::SlurmJob;
using internal::WriteDurably;
using internal::WriteIntent;
using Steady = std::chrono::steady_clock;
using Key = std::pair<std::int64_t, int>;

}  // namespace

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
    std::string state;  // Slurm's, last seen
    // false while it waits for sbatch (queued, or backing off): nothing
    // is judged on Slurm not knowing it.
    bool submitted = true;
    bool started = false;
    // The job's reason as it should read, and as it was last recorded
    // (SlurmOptions::progress): offered again each poll until recorded.
    std::string wanted, reported;
    std::optional<Steady::time_point> missing_since, ended_since, result_since;
    std::optional<CancelMode> cancel;
  };
  std::mutex runner_mu;  // one command at a time through the runner
  std::mutex mu;
  std::map<Key, Tracked> tracked;  // GUARDED_BY(mu)

  // Attempts waiting for sbatch, in launch order, on the submit thread (or
  // within Launch without one). After an sbatch that failed and may pass
  // later, the whole queue waits (slurmctld away is everyone's failure),
  // the wait doubling up to submit_backoff_max.
  struct Queued {
    core::LaunchRequest request;
  };
  std::deque<Queued> queue;              // GUARDED_BY(mu)
  std::optional<Key> in_flight;          // GUARDED_BY(mu); the one in sbatch now
  Steady::time_point submit_after{};     // GUARDED_BY(mu)
  int submit_failures = 0;               // GUARDED_BY(mu); in a row
  bool submit_stop = false;              // GUARDED_BY(mu)
  std::condition_variable submit_cv;     // with mu
  std::thread submitter;
  // Nodes that failed a job's attempts: its next ones exclude them.
  std::map<std::int64_t, std::set<std::string>> failed_nodes;  // GUARDED_BY(mu)
  bool accounting = true;       // GUARDED_BY(mu); off once sacct says it is disabled
  bool squeue_failing = false;  // GUARDED_BY(mu); logged once per outage

  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;  // GUARDED_BY(stop_mu)
  std::thread poller;

  static Key KeyOf(core::JobId job, int attempt) { return {job.value, attempt}; }

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
    tracked.emplace(KeyOf(t.job, t.attempt), std::move(t));
  }

  // Reports the attempt ended, once.
  void Finish(core::JobId job, int attempt, core::JobOutcome outcome) {
    std::string dir;
    {
      std::lock_guard lock(mu);
      auto it = tracked.find(KeyOf(job, attempt));
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
      auto it = tracked.find(KeyOf(t.job, t.attempt));
      if (it == tracked.end()) return;
      if (!it->second.ended_since) it->second.ended_since = now;
      if (now - *it->second.ended_since < options.result_grace) return;
    }
    Finish(t.job, t.attempt, internal::OutcomeOfSlurm(sj, t.cancel));
  }

  // Records the attempt's reason when it changed (or was not taken before).
  void Offer(Key key) {
    std::string text;
    {
      std::lock_guard lock(mu);
      auto it = tracked.find(key);
      if (it == tracked.end() || it->second.wanted == it->second.reported) return;
      text = it->second.wanted;
    }
    if (!options.progress || !options.progress(core::JobId{key.first}, key.second, text))
      return;
    std::lock_guard lock(mu);
    if (auto it = tracked.find(key); it != tracked.end()) it->second.reported = text;
  }

  void Poll(Steady::time_point now) {
    std::vector<Tracked> todo;
    std::vector<Key> unsaid;
    {
      std::lock_guard lock(mu);
      for (const auto& [k, t] : tracked) {
        if (t.submitted)
          todo.push_back(t);
        else if (t.wanted != t.reported)
          unsaid.push_back(k);
      }
    }
    for (const auto& k : unsaid) Offer(k);
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
    auto listed = Squeue({});
    if (!listed) return;  // slurmctld away: nothing is judged on silence
    std::vector<Tracked> missing;
    for (auto& t : open) {
      auto it = listed->find(t.name);
      if (it == listed->end()) {
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
        auto it = tracked.find(KeyOf(t.job, t.attempt));
        if (it == tracked.end()) continue;
        if (!it->second.missing_since) it->second.missing_since = now;
        lost = now - *it->second.missing_since >= options.lost_grace;
      }
      if (!lost) continue;
      // A supervisor holds the attempt's lock: it runs, outside Slurm's
      // view (started by the local executor before the switch to Slurm).
      if (sandbox::ProbeJob(t.dir).state == sandbox::JobProbe::State::kRunning) {
        std::lock_guard lock(mu);
        if (auto it = tracked.find(KeyOf(t.job, t.attempt)); it != tracked.end())
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
    bool started = false;
    Tracked copy;
    {
      std::lock_guard lock(mu);
      auto it = tracked.find(KeyOf(t.job, t.attempt));
      if (it == tracked.end()) return;
      Tracked& m = it->second;
      m.missing_since.reset();
      if (m.id.empty()) {
        m.id = sj.id;
        (void)WriteIntent(m.dir, {m.name, m.id, m.submitted_at});
      }
      m.state = sj.state;
      // "None": Slurm has not looked at it yet; nothing to tell.
      if (phase == Phase::kPending && !sj.reason.empty() && sj.reason != "None") {
        m.wanted = internal::PendingText(sj);
      }
      if (phase == Phase::kRunning) {
        m.wanted = StrCat("running in Slurm job ", sj.id, sj.nodes.empty() ? "" : " on ", sj.nodes);
        if (!m.started) m.started = started = true;
      }
      copy = m;
    }
    Offer(KeyOf(t.job, t.attempt));
    if (started && callbacks.started) callbacks.started(t.job, t.attempt);
    if (phase == Phase::kEnded) return Ended(copy, sj, now);
    // A result, and Slurm still holds the job (sluss-run exiting, the
    // node's epilog): after result_grace the result stands on its own.
    if (auto r = ReadResult(t.dir)) {
      {
        std::lock_guard lock(mu);
        auto it = tracked.find(KeyOf(t.job, t.attempt));
        if (it == tracked.end()) return;
        if (!it->second.result_since) it->second.result_since = now;
        if (now - *it->second.result_since < options.result_grace) return;
      }
      Finish(t.job, t.attempt, FromResult(*r, copy));
    }
  }

  // --- Submission: the submit thread (or Launch, without one) ---

  void SubmitLoop() {
    std::unique_lock lock(mu);
    for (;;) {
      if (submit_stop) return;
      if (queue.empty()) {
        submit_cv.wait(lock);
        continue;
      }
      if (Steady::now() < submit_after) {
        submit_cv.wait_until(lock, submit_after);
        continue;
      }
      Queued q = std::move(queue.front());
      queue.pop_front();
      const Key key = KeyOf(q.request.job, q.request.attempt);
      in_flight = key;
      lock.unlock();
      const bool again = SubmitOne(q.request);
      lock.lock();
      in_flight.reset();
      if (again) queue.push_front(std::move(q));  // first, after the wait
    }
  }

  // What is due in the queue, on the caller's thread.
  void SubmitDue() {
    for (;;) {
      Queued q;
      {
        std::lock_guard lock(mu);
        if (queue.empty() || Steady::now() < submit_after) return;
        q = std::move(queue.front());
        queue.pop_front();
        in_flight = KeyOf(q.request.job, q.request.attempt);
      }
      const bool again = SubmitOne(q.request);
      std::lock_guard lock(mu);
      in_flight.reset();
      if (again) {
        queue.push_front(std::move(q));
        return;
      }
    }
  }

  // Marks the attempt as in Slurm's hands (its id, when known); true when
  // a cancel came while it was being submitted.
  bool Submitted(Key key, const std::string& id, std::int64_t submitted_at) {
    std::lock_guard lock(mu);
    submit_failures = 0;
    auto it = tracked.find(key);
    if (it == tracked.end()) return false;
    Tracked& t = it->second;
    t.submitted = true;
    t.id = id;
    t.submitted_at = submitted_at;
    if (!id.empty() && t.state.empty()) t.state = "PENDING";
    return t.cancel.has_value();
  }

  // An sbatch that may pass later (slurmctld away or busy): the queue
  // waits, and the job's reason says why. Returns true (submit again).
  bool Backoff(Key key, const std::string& why) {
    std::chrono::milliseconds wait{};
    bool first = false;
    {
      std::lock_guard lock(mu);
      first = submit_failures == 0;
      const int doublings = std::min(submit_failures, 16);
      ++submit_failures;
      wait = std::min(options.submit_backoff * (1 << doublings), options.submit_backoff_max);
      submit_after = Steady::now() + wait;
      if (auto it = tracked.find(key); it != tracked.end())
        it->second.wanted = StrCat("waiting to reach Slurm: ", why, "; trying again in ",
                                   std::max<std::int64_t>(1, (wait.count() + 999) / 1000), " s");
    }
    if (first) Log(StrCat("slurm: job ", key.first, " attempt ", key.second, ": ", why,
                          "; submissions wait and are tried again"));
    Offer(key);
    return true;
  }

  // One attempt to sbatch: false when it is done with (submitted, found in
  // Slurm already, or failed for good), true to try again after the wait.
  bool SubmitOne(const core::LaunchRequest& r) {
    const Key key = KeyOf(r.job, r.attempt);
    Tracked t;
    {
      std::lock_guard lock(mu);
      auto it = tracked.find(key);
      if (it == tracked.end()) return false;
      t = it->second;
    }
    auto fail = [&](const std::string& message) {
      core::JobOutcome o;
      o.status = core::StatusCode::kInternalError;
      o.message = message;
      Finish(r.job, r.attempt, o);
      return false;
    };
    if (t.cancel) {
      core::JobOutcome o;
      o.status = core::StatusCode::kCancelledByUser;
      o.message = "cancelled before it reached Slurm";
      Finish(r.job, r.attempt, o);
      return false;
    }
    const std::string& dir = t.dir;
    if (auto w = WriteDurably(dir + "/job.sbatch", internal::BatchScript(options.node.sluss_run, dir),
                              0700);
        !w)
      return fail(w.error().message);
    if (ReadResult(dir)) {  // ran to the end already: the poll reports it
      Submitted(key, t.id, t.submitted_at);
      return false;
    }
    if (auto intent = ReadIntent(dir)) {
      // Submitted before (by an slussd that died before recording the id,
      // or an sbatch that failed after slurmctld took the job): found by
      // name before anything is submitted again.
      auto found = Squeue({t.name});
      if (!found) return Backoff(key, "squeue does not answer");
      auto it = found->find(t.name);
      std::map<std::string, SlurmJob> acct;
      if (it == found->end())
        acct = Sacct({t.name}, intent->submitted_at > 0 ? intent->submitted_at
                                                        : EpochSeconds() - 7 * 86400);
      if (it != found->end() || acct.contains(t.name)) {
        const SlurmJob& sj = it != found->end() ? it->second : acct.at(t.name);
        (void)WriteIntent(dir, {t.name, sj.id, intent->submitted_at});
        Log(StrCat("slurm: job ", r.job.value, " attempt ", r.attempt, " found as Slurm job ", sj.id,
                   " (", sj.state, "); not submitted again"));
        if (Submitted(key, sj.id, intent->submitted_at)) (void)Run({"scancel", sj.id});
        return false;
      }
      // Unknown to Slurm. A supervisor that ran (its lock or pid is there)
      // means it was submitted and ran: its result, or lost after the grace.
      if (sandbox::ProbeJob(dir).state != sandbox::JobProbe::State::kNew) {
        Submitted(key, intent->id, intent->submitted_at);
        return false;
      }
    }
    std::set<std::string> exclude;
    {
      std::lock_guard lock(mu);
      if (auto it = failed_nodes.find(r.job.value); it != failed_nodes.end()) exclude = it->second;
    }
    const std::int64_t submitted_at = EpochSeconds();
    if (auto w = WriteIntent(dir, {t.name, "", submitted_at}); !w) return fail(w.error().message);
    auto out = Run(internal::SbatchArgs(submit, r, t.name, dir, exclude));
    std::string id = out.status == 0 ? internal::ParseSbatchId(out.text) : "";
    if (id.empty() && !exclude.empty() && internal::SbatchRefused(out.text)) {
      // Without the failed nodes nothing fits (a small partition): those
      // nodes may be back; Slurm places it, or says why it waits.
      (void)Run({"scancel", "--user=" + user, "--name=" + t.name});
      Log(StrCat("slurm: job ", r.job.value, " attempt ", r.attempt, " does not fit without ",
                 "the nodes that failed it; submitted without --exclude"));
      out = Run(internal::SbatchArgs(submit, r, t.name, dir, {}));
      id = out.status == 0 ? internal::ParseSbatchId(out.text) : "";
    }
    if (id.empty()) {
      std::string text = out.text;
      while (!text.empty() && text.back() == '\n') text.pop_back();
      const std::string why = StrCat("sbatch failed (exit ", out.status, "): ", text);
      // Slurm took it after all (an answer lost on the way): the intent is
      // on disk, and the next try finds the job by name first.
      if (!internal::SbatchRefused(out.text)) return Backoff(key, why);
      // Refused for good (the request or the settings): nothing of it may
      // stay queued.
      (void)Run({"scancel", "--user=" + user, "--name=" + t.name});
      return fail(StrCat("sbatch refused the job (exit ", out.status, "): ", text));
    }
    (void)WriteIntent(dir, {t.name, id, submitted_at});
    if (Submitted(key, id, submitted_at)) (void)Run({"scancel", id});
    return false;
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
  if (impl_->options.submit_thread)
    impl_->submitter = std::thread([impl = impl_.get()] { impl->SubmitLoop(); });
}

SlurmExecutor::~SlurmExecutor() {
  {
    std::lock_guard lock(impl_->stop_mu);
    impl_->stopping = true;
  }
  impl_->stop_cv.notify_all();
  {
    std::lock_guard lock(impl_->mu);
    impl_->submit_stop = true;
  }
  impl_->submit_cv.notify_all();
  // What is still queued was never given to sbatch: after a restart it has
  // no intent (or one Slurm does not know) and is launched again.
  if (impl_->submitter.joinable()) impl_->submitter.join();
  if (impl_->poller.joinable()) impl_->poller.join();
}

void SlurmExecutor::PollOnce() { impl_->Poll(Steady::now()); }

core::Result<void> SlurmExecutor::Launch(const core::LaunchRequest& r) {
  Impl& m = *impl_;
  if (r.attempt_key.empty()) return core::Internal("a launch without an attempt key");
  const Key key = Impl::KeyOf(r.job, r.attempt);
  {
    std::lock_guard lock(m.mu);
    if (m.tracked.contains(key)) return {};
  }
  const std::string dir = m.Dir(r.job, r.attempt, r.attempt_key);
  // Which GPUs, on which node, is Slurm's choice (--gres=gpu:N):
  // sluss-run takes the ones Slurm allocated to the batch job.
  if (auto w = WriteAttemptSpec(m.options.node, m.runtime_version, r, dir, true); !w) return w;
  Impl::Tracked t;
  t.job = r.job;
  t.attempt = r.attempt;
  t.dir = dir;
  t.name = internal::JobName(m.options.node.container_prefix, r.job, r.attempt, r.attempt_key);
  t.submitted = false;
  {
    std::lock_guard lock(m.mu);
    m.tracked.emplace(key, std::move(t));
    m.queue.push_back({r});
  }
  // sbatch (about 35 ms, or a minute when slurmctld is away) is the
  // submit thread's: the caller (the engine's cycle) goes on at once.
  if (m.submitter.joinable())
    m.submit_cv.notify_one();
  else
    m.SubmitDue();
  return {};
}

void SlurmExecutor::SubmitQueued() { impl_->SubmitDue(); }

core::Result<void> SlurmExecutor::Cancel(core::JobId job, int attempt, CancelMode mode) {
  Impl& m = *impl_;
  Impl::Tracked t;
  {
    std::lock_guard lock(m.mu);
    auto it = m.tracked.find(Impl::KeyOf(job, attempt));
    if (it == m.tracked.end()) return {};  // not running here
    it->second.cancel = mode;
    t = it->second;
    if (!t.submitted) {
      // Still queued: it never reaches Slurm. Being submitted now: the
      // submitter cancels it in Slurm once it has its id.
      if (m.in_flight == Impl::KeyOf(job, attempt)) return {};
      std::erase_if(m.queue, [&](const Impl::Queued& q) {
        return q.request.job == job && q.request.attempt == attempt;
      });
    }
  }
  if (!t.submitted) {
    core::JobOutcome o;
    o.status = core::StatusCode::kCancelledByUser;
    o.message = "cancelled before it reached Slurm";
    m.Finish(job, attempt, o);
    return {};
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
