#pragma once

// The engine: one thread on which every scheduling change happens. It
// gathers a snapshot from the store, asks the planner, and carries out the
// decisions, persisting each before acting on it (a job is `preparing` in
// the store before its container is launched, so a crash at any point
// launches nothing twice: the executor's launch is idempotent and a
// restart re-attaches). It also records results, retries with backoff,
// cancels what the store says was cancelled, and keeps fair-share usage.
//
// Events (a run was created, a job was cancelled or held through the API,
// an attempt ended) wake the loop; it also runs once a second. A cycle
// reads only the jobs whose status changed since the last one (its view of
// the queue is kept in memory), and events that come while one runs wait
// for the next together.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <unordered_map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/executor.h"
#include "core/job_spec.h"
#include "core/store.h"
#include "core/time.h"
#include "scheduler/planner.h"

namespace sluss::scheduler {

// The budget period that `now` falls in: "2026-11-28" (day), "week of
// 2026-11-23" (from its Monday, UTC), "2026-11" (month).
std::string BudgetPeriodKey(const std::string& period, core::TimePoint now);


struct EngineOptions {
  std::vector<NodeState> nodes;
  // What a job gets for what it does not ask for (the time limit: the
  // project's per_job.max_time first).
  core::ResourceDefaults defaults{.milli_cpus = 1000,
                                  .memory_bytes = std::int64_t{2} << 30,
                                  .time_limit = std::chrono::seconds(3600),
                                  .disk_bytes = std::int64_t{10} << 30};
  // Retry backoff: base × 2^(attempt-1), at most `backoff_max`.
  std::chrono::seconds backoff_base{10};
  std::chrono::seconds backoff_max{600};
  // A running job this long past its time limit without a result is
  // cancelled by the engine (sluss-run normally ends it first).
  std::chrono::seconds overrun_grace{60};
  // Cycles run at once on every event (a job submitted, finished, changed
  // through the API) and otherwise every `tick`, but no more often than
  // every `idle_factor` cycle lengths: with 100,000 jobs queued a cycle
  // takes a fraction of a second, and an idle queue must not keep a core
  // busy re-planning what has not changed. Never longer than
  // `max_idle_wait`, for what time alone changes (retry backoffs, limits).
  std::chrono::milliseconds tick{1000};
  int idle_factor = 5;
  std::chrono::milliseconds max_idle_wait{30'000};
  // Events that arrive within a cycle's length of the last cycle's end
  // (at most this) wait for one cycle together.
  std::chrono::milliseconds coalesce_max{100};
  // How deep a cycle looks (queue_depth.h): a cycle plans the first
  // `queue_depth` ready jobs of each project and every job that waits for
  // something else; a full cycle, which plans every job and so makes every
  // waiting job's reason true again, runs at least every `full_plan_every`
  // (by the engine's clock), at the first cycle and when a quota changes.
  // 0: every cycle is full.
  int queue_depth = 1000;
  std::chrono::milliseconds full_plan_every{1000};
  // false: Start re-attaches but runs no loop; the caller calls RunOnce
  // (tests).
  bool run_loop = true;
  // Free space before launching: "" when the state and job file systems
  // have room, else the reason jobs wait with ("waiting_on_disk: 12 MiB
  // free on /var/lib/sluss, 1 GiB reserved"). Called once a cycle on the
  // engine's thread; empty: not checked.
  std::function<std::string()> disk_check;
  // Where the engine reports what went wrong (a store write that failed, a
  // stored spec that does not load): slussd's log. Called on the engine's
  // thread; empty: not reported.
  std::function<void(const std::string&)> log_error;
  // Where the engine reports what is worth knowing but not wrong (the disk
  // is back above its reserve): slussd's log at INFO. Called on the
  // engine's thread; empty: not reported.
  std::function<void(const std::string&)> log_info;
};

struct EngineStats {
  static constexpr double kBuckets[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};  // seconds
  std::int64_t cycles = 0;
  std::int64_t full_cycles = 0;  // of `cycles`: those that planned every pending job
  double last_cycle_ms = 0;
  double cycle_seconds_sum = 0;
  std::int64_t cycle_buckets[std::size(kBuckets) + 1] = {};  // per bucket, not cumulative
  std::int64_t started = 0;
  std::int64_t finished = 0;
  std::map<std::string, std::int64_t> outcomes;  // by status code
  int running_jobs = 0;   // at the last cycle
  int gpus_allocated = 0;
  int pending_jobs = 0;
  // GPU jobs ended, by "nvml" (measured) or "unavailable"; and what the
  // measured ones' GPUs did.
  std::map<std::string, std::int64_t> gpu_jobs_measured;
  double gpu_busy_seconds = 0;
  double gpu_energy_joules = 0;

  // The figures in Prometheus text format.
  std::string ToPrometheus() const;
};

class Engine {
 public:
  Engine(core::Store& store, const core::Clock& clock, core::LaunchPreparer& preparer,
         EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The callbacks to give the executor: they queue events for the engine.
  core::Executor::Callbacks ExecutorCallbacks();

  // Re-attaches to the attempts the store says run, then starts the loop.
  void Start(core::Executor& executor);
  void Stop();
  // Something changed in the store: plan again soon.
  void Wake();
  EngineStats Stats() const;

  // One cycle on the caller's thread (tests; the loop calls it too).
  void RunOnce();

 private:
  struct Finished {
    core::JobId job;
    int attempt;
    core::JobOutcome outcome;
  };
  void Loop();
  // Records the results, in one transaction (and their retries in a second).
  void RecordFinished(const std::deque<Finished>& done);
  // Reports whose recording failed, kept for the next cycle.
  void RequeueFinished(std::deque<Finished> reports);
  core::Quota QuotaOf(const std::string& project);
  void Cycle();
  // Persists `waits` (the cycle's reasons and failures) and every start as
  // `preparing` in one transaction, launches the starts, then records them
  // `executing` in another.
  void LaunchAll(const std::vector<scheduler::Start>& starts,
                 std::vector<core::JobTransition> waits);
  // Brings active_ up to date: the whole queue at the first cycle (and
  // after a failed read), then only the jobs whose status changed since.
  // false: the store could not be read; the cycle plans nothing.
  bool Refresh();
  // Keeps `job`: a pending one in pending_ only, any other in active_
  // without its spec and result (its facts are parsed first).
  void Keep(core::Job job);
  void DropPending(core::JobId id);
  // REQUIRES: `id` is in pending_.
  const PendingJob& PendingOf(core::JobId id) const;
  static const core::Quota& QuotaIn(const std::map<std::string, core::Quota>& quotas,
                                    const std::string& project);
  // What the planner needs from a job's spec, parsed once per job (a spec
  // never changes) rather than at every cycle: with a thousand jobs queued
  // the parsing was a fifth of a cycle.
  struct SpecFacts {
    core::ResourceRequest request;
    int priority = 0;
    core::RetryPolicy retries;
    bool valid = true;  // false: the stored spec does not load; the job fails
    std::string error;
  };
  const SpecFacts& FactsOf(const core::Job& job);
  void LogError(const std::string& message) const;
  void LogInfo(const std::string& message) const;
  // Store failures that recording job ends meets: logged once per episode.
  void LogStoreFailure(const std::string& message);
  void StoreRecovered();
  core::Resources RequestOf(const core::Job& job, const core::Quota& quota);
  const core::Run* RunOf(core::RunId id);
  // A GPU slot of `node` by its name (NodeState::gpu_names), as job rows
  // store it, and back: a job's slots. A row from before names were stored
  // holds slot numbers, read as such.
  std::string GpuName(const std::string& node, int slot) const;
  std::vector<int> GpuSlots(const core::Job& job) const;
  // Charges fair-share usage and GPU-hours in memory; PersistUsage writes
  // what changed (once per cycle).
  void ChargeUsage(const core::Job& job, const core::JobOutcome& outcome);
  void PersistUsage();
  void LoadUsage();
  double GpuHoursSpent(const std::string& project, const std::string& period);
  void ChargeGpuHours(const core::Job& job, const core::JobOutcome& outcome);

  core::Store& store_;
  const core::Clock& clock_;
  core::LaunchPreparer& preparer_;
  EngineOptions options_;
  core::Executor* executor_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool woken_ = false;
  std::deque<Finished> finished_;
  EngineStats stats_;
  std::thread thread_;

  // Engine thread only.
  // The queue as the store last said it: every running job by id (and any
  // pending one whose spec does not load) in active_, every other pending
  // job in pending_, and the status of each job they need. Read whole
  // once, then kept current from the jobs that changed since `cursor_` (a job event id;
  // -1: read it whole at the next cycle), so that a cycle's reads cost
  // what changed, not what waits. The store stays the truth: every
  // decision is persisted (and checked against the status planned on)
  // before it is acted on.
  std::map<core::JobId, core::Job> active_;
  std::map<core::JobId, core::ActiveJobs::Need> needs_;
  std::int64_t cursor_ = -1;
  // The pending jobs whose spec loads, kept only as the planner reads them,
  // each at pending_at_[id]: moved into each cycle's snapshot and back,
  // updated only as jobs change (all read again when a quota changes).
  std::vector<PendingJob> pending_;
  std::unordered_map<std::int64_t, std::size_t> pending_at_;
  std::map<std::string, core::Quota> quotas_;  // as of the last cycle
  std::optional<core::TimePoint> last_full_;   // the last full cycle (queue_depth)
  std::size_t touched_ = 0;  // jobs read and written by the current cycle
  std::map<core::RunId, core::Run> runs_;
  std::deque<Finished> unrecorded_;  // ends whose store write failed
  // By job id: the jobs of active_ only (a pending job's are in its PendingJob).
  std::unordered_map<std::int64_t, SpecFacts> facts_;
  std::set<std::pair<core::JobId, int>> launched_;     // running here
  std::set<std::pair<core::JobId, int>> cancel_sent_;
  // Attempts the engine itself stopped for running past their time limit:
  // they end timed_out, not cancelled.
  std::set<std::pair<core::JobId, int>> overran_;
  // ... and whose supervisor it then killed, for not answering that stop.
  std::set<std::pair<core::JobId, int>> supervisor_killed_;
  std::string disk_short_;          // the last cycle's disk reason (logged once per episode)
  std::int64_t store_failing_ = 0;  // failed job-end writes in this episode
  std::map<std::string, std::pair<double, core::TimePoint>> usage_;  // project -> (usage, as of)
  // GPU-hours spent by project in the budget period named by the key.
  std::map<std::string, std::pair<std::string, double>> gpu_hours_;
  bool usage_dirty_ = false;
  std::set<std::string> gpu_hours_dirty_;
};

}  // namespace sluss::scheduler
