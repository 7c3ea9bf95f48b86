#include "scheduler/engine.h"

#include <malloc.h>

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/job_spec.h"
#include "core/quantity.h"
#include "core/strings.h"
#include "scheduler/internal/usage.h"
#include "scheduler/queue_depth.h"

namespace sluss::scheduler {
namespace {

using core::StatusCode;
using core::StrCat;
using internal::Decay;
using internal::ParseOr;
using nlohmann::json;

bool SettingFlag(core::Store& store, const std::string& key, const char* flag) {
  auto v = store.GetSetting(key);
  if (!v) return false;
  json j = ParseOr(*v);
  return j.is_object() && j.value(flag, false);
}

}  // namespace

Engine::Engine(core::Store& store, const core::Clock& clock, core::LaunchPreparer& preparer,
               EngineOptions options)
    : store_(store), clock_(clock), preparer_(preparer), options_(std::move(options)) {
  LoadUsage();
}

Engine::~Engine() { Stop(); }

core::Executor::Callbacks Engine::ExecutorCallbacks() {
  core::Executor::Callbacks cb;
  cb.started = [](core::JobId, int) {};
  cb.finished = [this](core::JobId job, int attempt, const core::JobOutcome& outcome) {
    std::lock_guard lock(mu_);
    finished_.push_back({job, attempt, outcome});
    cv_.notify_one();
  };
  return cb;
}

void Engine::Start(core::Executor& executor) {
  executor_ = &executor;
  // Re-attach to what the store says runs; launch what was decided but
  // never launched.
  if (auto active = store_.ListActiveJobs()) {
    std::vector<core::RunningAttempt> running;
    std::map<core::JobId, const core::Job*> by_id;
    for (const auto& j : active->jobs) {
      if (j.state() != core::JobState::kRunning) continue;
      running.push_back({j.id, j.attempt, core::AttemptKey(j, j.attempt), j.node});
      launched_.insert({j.id, j.attempt});
      by_id[j.id] = &j;
    }
    for (const auto& a : executor.Reattach(running)) {
      const core::Job& job = *by_id.at(a.job);
      const core::Placement placement{
          job.node, GpuSlots(job), job.placed ? *job.placed : RequestOf(job, QuotaOf(job.project))};
      const core::Run* run = RunOf(job.run_id);
      auto req = run ? preparer_.Prepare(job, *run, placement)
                     : core::Result<core::LaunchRequest>(core::NotFound("run gone"));
      if (req) {
        req->attempt = job.attempt;
        req->attempt_key = core::AttemptKey(job, job.attempt);
      }
      core::Result<core::Job> moved = core::Internal("not moved");
      if (!req || !executor.Launch(*req)) {
        moved = store_.TransitionJob(job.id, job.status, StatusCode::kNodeLost,
                                     "node_lost: the daemon stopped while the job was starting",
                                     clock_.Now());
      } else if (job.status == StatusCode::kPreparing) {
        moved = store_.TransitionJob(job.id, StatusCode::kPreparing, StatusCode::kExecuting,
                                     StrCat("running on ", job.node), clock_.Now());
      } else {
        continue;
      }
      if (!moved) LogError(StrCat("job ", job.id.value, ": after the restart: ", moved.error().message));
    }
  }
  if (options_.run_loop) thread_ = std::thread([this] { Loop(); });
}

void Engine::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void Engine::Wake() {
  std::lock_guard lock(mu_);
  woken_ = true;
  cv_.notify_one();
}

EngineStats Engine::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Engine::Loop() {
  auto last_end = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::unique_lock lock(mu_);
      const auto last = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::duration<double, std::milli>(stats_.last_cycle_ms));
      cv_.wait_for(lock,
                   std::clamp(options_.idle_factor * last, options_.tick,
                              std::max(options_.tick, options_.max_idle_wait)),
                   [&] { return stop_ || woken_ || !finished_.empty(); });
      // Under load, events gather for as long as the last cycle took (up to
      // `coalesce_max`): a burst of ends is one cycle, and the engine plans
      // at most half of its time.
      const auto until = last_end + std::min(last, options_.coalesce_max);
      cv_.wait_until(lock, until, [&] { return stop_; });
      if (stop_) return;
      woken_ = false;
    }
    RunOnce();
    last_end = std::chrono::steady_clock::now();
  }
}

void Engine::RunOnce() {
  const auto t0 = std::chrono::steady_clock::now();
  std::deque<Finished> done;
  done.swap(unrecorded_);
  {
    std::lock_guard lock(mu_);
    for (auto& f : finished_) done.push_back(std::move(f));
    finished_.clear();
  }
  RecordFinished(done);
  touched_ = 0;
  Cycle();
  PersistUsage();
#ifdef __GLIBC__
  // A cycle that read or wrote thousands of jobs (the first read of a deep
  // queue, a big run arriving, every reason written) leaves heap that glibc
  // keeps: given back, slussd's size follows the queue, not its peak.
  if (touched_ >= 1000) ::malloc_trim(0);
#endif
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  // GPU jobs' use of their GPUs, as sluss-run measured it (NVML).
  std::map<std::string, std::int64_t> gpu_measured;
  double gpu_energy = 0, gpu_busy = 0;
  for (const auto& f : done) {
    if (f.outcome.result_json.find("\"gpu_usage\":{") == std::string::npos) continue;
    auto r = core::ParseJobResult(f.outcome.result_json);
    if (!r || r->gpu_usage.source.empty()) continue;
    const bool nvml = r->gpu_usage.source == "nvml";
    gpu_measured[nvml ? "nvml" : "unavailable"] += 1;
    if (!nvml) continue;
    gpu_energy += r->gpu_usage.energy_joules;
    gpu_busy += r->gpu_usage.utilization_pct / 100.0 * r->wall_seconds *
                static_cast<double>(r->gpus.size());
  }
  std::lock_guard lock(mu_);
  for (const auto& [source, n] : gpu_measured) stats_.gpu_jobs_measured[source] += n;
  stats_.gpu_energy_joules += gpu_energy;
  stats_.gpu_busy_seconds += gpu_busy;
  stats_.cycles += 1;
  stats_.last_cycle_ms = ms;
  stats_.cycle_seconds_sum += ms / 1000;
  std::size_t b = 0;
  while (b < std::size(EngineStats::kBuckets) && ms / 1000 > EngineStats::kBuckets[b]) ++b;
  stats_.cycle_buckets[b] += 1;
  stats_.finished += static_cast<std::int64_t>(done.size());
  for (const auto& f : done) stats_.outcomes[std::string(core::Name(f.outcome.status))] += 1;
}

const core::Run* Engine::RunOf(core::RunId id) {
  auto it = runs_.find(id);
  if (it != runs_.end()) return &it->second;
  auto run = store_.GetRun(id);
  if (!run) return nullptr;
  if (runs_.size() > 10000) runs_.clear();
  return &runs_.emplace(id, std::move(*run)).first->second;
}

std::string Engine::GpuName(const std::string& node, int slot) const {
  for (const auto& n : options_.nodes) {
    if (n.name == node && slot >= 0 && static_cast<std::size_t>(slot) < n.gpu_names.size())
      return n.gpu_names[static_cast<std::size_t>(slot)];
  }
  return std::to_string(slot);
}

std::vector<int> Engine::GpuSlots(const core::Job& job) const {
  const NodeState* node = nullptr;
  for (const auto& n : options_.nodes)
    if (n.name == job.node) node = &n;
  std::vector<int> out;
  for (const auto& g : job.gpus) {
    int slot = -1;
    if (node) {
      auto it = std::find(node->gpu_names.begin(), node->gpu_names.end(), g);
      if (it != node->gpu_names.end()) slot = static_cast<int>(it - node->gpu_names.begin());
    }
    out.push_back(slot >= 0 ? slot : std::atoi(g.c_str()));
  }
  return out;
}

void Engine::LogError(const std::string& message) const {
  if (options_.log_error) options_.log_error(message);
}

void Engine::LogInfo(const std::string& message) const {
  if (options_.log_info) options_.log_info(message);
}

void Engine::LogStoreFailure(const std::string& message) {
  // Once per episode (a full disk fails every cycle until it is freed).
  if (store_failing_++ == 0)
    LogError(StrCat(message, " (not logged again until the store takes job ends again)"));
}

void Engine::StoreRecovered() {
  if (store_failing_ == 0) return;
  LogError(StrCat("the store takes job ends again, after ", store_failing_, " failed writes"));
  store_failing_ = 0;
}

const Engine::SpecFacts& Engine::FactsOf(const core::Job& job) {
  if (auto it = facts_.find(job.id.value); it != facts_.end()) return it->second;
  SpecFacts f;
  if (auto spec = core::ParseJobSpec(job.spec_json)) {
    f.request = spec->resources;
    f.priority = spec->priority;
    f.retries = spec->retries;
  } else {
    f.valid = false;
    f.error = spec.error().message;
  }
  return facts_.emplace(job.id.value, std::move(f)).first->second;
}

core::Resources Engine::RequestOf(const core::Job& job, const core::Quota& quota) {
  // The project's per-job time limit can change at runtime: applied at
  // every cycle to jobs that declared none.
  return core::EffectiveResources(FactsOf(job).request, options_.defaults, quota);
}

void Engine::RecordFinished(const std::deque<Finished>& done) {
  if (done.empty()) return;
  const core::TimePoint now = clock_.Now();
  std::vector<core::JobTransition> batch;
  std::vector<const Finished*> final_of;  // per batch entry: the report it ends, or null
  std::deque<Finished> retry_later;  // reports whose write failed: kept, never lost
  for (const auto& f : done) {
    auto job = store_.GetJob(f.job);
    if (!job) {
      if (job.error().code != core::ErrorCode::kNotFound) {
        LogStoreFailure(
            StrCat("job ", f.job.value, " attempt ", f.attempt,
                   ": cannot read it to record its end (will retry): ", job.error().message));
        retry_later.push_back(f);
      }
      continue;
    }
    if (job->attempt != f.attempt) continue;  // a stale report
    const bool overran = overran_.contains({f.job, f.attempt});
    supervisor_killed_.erase({f.job, f.attempt});
    cancel_sent_.erase({f.job, f.attempt});
    launched_.erase({f.job, f.attempt});
    overran_.erase({f.job, f.attempt});
    core::JobUpdate update{.result_json = f.outcome.result_json, .exit_code = f.outcome.exit_code};
    if (job->state() != core::JobState::kRunning) {
      // Cancelled (or failed) while it ran: keep what it did. A store that
      // failed gets it again at the next cycle; only a newer attempt
      // (kConflict) makes it moot.
      if (auto u = store_.UpdateJob(f.job, f.attempt, update); !u) {
        if (u.error().code == core::ErrorCode::kConflict) continue;
        LogStoreFailure(StrCat("job ", f.job.value, " attempt ", f.attempt,
                               ": storing its result failed (will retry): ", u.error().message));
        retry_later.push_back(f);
        continue;
      }
      ChargeUsage(*job, f.outcome);
      continue;
    }
    StatusCode from = job->status;
    if (from == StatusCode::kPreparing) {
      batch.push_back({f.job, StatusCode::kPreparing, StatusCode::kExecuting, "running", {}});
      final_of.push_back(nullptr);
      from = StatusCode::kExecuting;
    }
    StatusCode to = f.outcome.status;
    std::string message = f.outcome.message;
    if (overran && to == StatusCode::kNodeLost) {
      // Its supervisor was killed for not stopping it in time.
      to = StatusCode::kTimedOut;
      message = StrCat("the job ran past its time limit and did not stop; the scheduler killed it (",
                       message, ")");
    } else if (core::StateOf(to) == core::JobState::kCancelled) {
      // Nobody cancelled it through sluss (the store would say so): the
      // engine stopped it past its time limit, or something on the node
      // stopped its supervisor.
      const auto limit = job->placed ? job->placed->time_limit
                                     : RequestOf(*job, QuotaOf(job->project)).time_limit;
      const auto& o = f.outcome;
      // Also after a restart, which forgets `overran_`: it ran its limit.
      if (overran || (o.started_at && o.ended_at && *o.ended_at - *o.started_at >= limit)) {
        to = StatusCode::kTimedOut;
        message = StrCat("the job ran past its time limit of ", core::FormatDuration(limit),
                         " and was stopped by the scheduler");
      } else {
        to = StatusCode::kNodeLost;
        message = StrCat("the job was stopped on node ", job->node,
                         " by a signal that did not come from sluss (", message, ")");
      }
    }
    std::string reason =
        to == StatusCode::kSucceeded ? "succeeded" : StrCat(core::Name(to), ": ", message);
    batch.push_back({f.job, from, to, std::move(reason), update});
    final_of.push_back(&f);
  }
  auto moved = store_.TransitionJobs(batch, now);
  if (!moved) {
    // Nothing was written: every report stays for the next cycle, so no
    // job is left running in the store after its container ended.
    LogStoreFailure(StrCat("recording ", batch.size(),
                           " job ends failed (will retry): ", moved.error().message));
    for (const auto* f : final_of)
      if (f) {
        retry_later.push_back(*f);
        launched_.insert({f->job, f->attempt});
      }
    RequeueFinished(std::move(retry_later));
    return;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!final_of[i] || (*moved)[i]) continue;
    const Finished& f = *final_of[i];
    const core::Error& e = (*moved)[i].error();
    if (e.code == core::ErrorCode::kConflict) {
      // Moved meanwhile by someone else (a cancel through the API): what
      // it did is kept as for a cancelled job.
      // The next cycle finds it cancelled and stores the result then.
      if (auto u = store_.UpdateJob(f.job, f.attempt, batch[i].update); !u) {
        LogStoreFailure(StrCat("job ", f.job.value, " attempt ", f.attempt,
                               ": storing its result failed (will retry): ", u.error().message));
        retry_later.push_back(f);
      }
    } else if (e.code == core::ErrorCode::kFailedPrecondition) {
      LogError(StrCat("job ", f.job.value, " attempt ", f.attempt, ": cannot record its end (",
                      core::Name(batch[i].to), "): ", e.message));
    } else {
      // The store failed (a full disk, a busy database): kept for the next
      // cycle, so that the job is not left executing.
      LogStoreFailure(StrCat("job ", f.job.value, " attempt ", f.attempt, ": recording its end (",
                             core::Name(batch[i].to), ") failed (will retry): ", e.message));
      retry_later.push_back(f);
      launched_.insert({f.job, f.attempt});
    }
  }
  if (retry_later.empty()) StoreRecovered();
  RequeueFinished(std::move(retry_later));
  // Retries: each attempt is its own record; the next waits out a backoff.
  std::vector<core::JobTransition> retries;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!final_of[i] || !(*moved)[i]) continue;
    const core::Job& job = *(*moved)[i];
    ChargeUsage(job, final_of[i]->outcome);
    const StatusCode to = batch[i].to;
    if (core::StateOf(to) != core::JobState::kFailed) continue;
    const core::RetryPolicy& retry = FactsOf(job).retries;
    const int max = retry.max;
    const bool listed = std::find(retry.on.begin(), retry.on.end(), to) != retry.on.end();
    if (!listed || job.attempt > max) continue;
    auto backoff = options_.backoff_base * (1 << std::min(job.attempt - 1, 16));
    backoff = std::min(backoff, options_.backoff_max);
    retries.push_back({job.id, to, StatusCode::kWaitingOnResources,
                       StrCat("retry ", job.attempt, " of ", max, " after ", core::Name(to)),
                       core::JobUpdate{.eligible_at = now + backoff}});
  }
  if (auto r = store_.TransitionJobs(retries, now); !r)
    LogError(StrCat(retries.size(), " retries were not recorded: ", r.error().message,
                    "; the jobs stay failed"));
}

void Engine::RequeueFinished(std::deque<Finished> reports) {
  // Taken up again at the next cycle (a tick away: a store that keeps
  // failing is not hammered).
  for (auto& f : reports) unrecorded_.push_back(std::move(f));
}

core::Quota Engine::QuotaOf(const std::string& project) {
  auto p = store_.GetProject(project);
  return p ? p->quota : core::Quota{};
}

bool Engine::Refresh() {
  if (cursor_ < 0) {
    auto all = store_.ListActiveJobs();
    if (!all) {
      LogError(StrCat("reading the queue failed (next cycle retries): ", all.error().message));
      return false;
    }
    active_.clear();
    facts_.clear();
    pending_.clear();
    pending_at_.clear();
    for (auto& job : all->jobs) Keep(std::move(job));
    touched_ += all->jobs.size();
    needs_ = std::move(all->needs);
    cursor_ = all->cursor;
    return true;
  }
  auto changed = store_.ListJobChanges(cursor_);
  if (!changed) {
    LogError(StrCat("reading the queue's changes failed (next cycle retries): ",
                    changed.error().message));
    return false;
  }
  for (auto& job : changed->jobs) {
    if (auto it = needs_.find(job.id); it != needs_.end()) it->second = {job.status, job.action};
    if (job.state() == core::JobState::kPending || job.state() == core::JobState::kRunning) {
      Keep(std::move(job));
    } else {
      active_.erase(job.id);
      DropPending(job.id);
      facts_.erase(job.id.value);
    }
  }
  for (auto& [id, need] : changed->needs) needs_[id] = std::move(need);
  touched_ += changed->jobs.size();
  cursor_ = changed->cursor;
  // Needs of jobs that left: dropped when they are most of the map.
  if (needs_.size() > 2 * (active_.size() + pending_.size()) + 1024) {
    std::set<core::JobId> used;
    for (const auto& [_, job] : active_) used.insert(job.needs.begin(), job.needs.end());
    for (const auto& job : pending_) used.insert(job.needs.begin(), job.needs.end());
    std::erase_if(needs_, [&](const auto& n) { return !used.contains(n.first); });
  }
  return true;
}

void Engine::Keep(core::Job job) {
  // The spec is read once, into its facts; what a start needs of it comes
  // from the store then.
  const SpecFacts& facts = FactsOf(job);
  const core::JobId id = job.id;
  if (job.state() != core::JobState::kPending || !facts.valid) {
    job.spec_json.clear();
    job.spec_json.shrink_to_fit();
    job.result_json.clear();
    job.result_json.shrink_to_fit();
    active_.insert_or_assign(id, std::move(job));
    DropPending(id);
    return;
  }
  // A pending job is kept once, as the planner reads it: with 100,000
  // waiting, a second copy (the whole job row) was most of the engine's
  // memory.
  active_.erase(id);
  const core::Run* run = RunOf(job.run_id);
  core::Resources request = RequestOf(job, QuotaIn(quotas_, job.project));
  PendingJob p{id,
               std::move(job.project),
               run ? run->submitted_by : "",
               std::move(job.action),
               job.status,
               std::move(job.reason),
               request,
               std::move(job.needs),
               job.created_at,
               job.eligible_at};
  p.priority = facts.priority;
  // Its facts are in `p` now (the request as the quotas make it; a changed
  // quota reads the queue again), until it starts.
  facts_.erase(id.value);
  if (auto it = pending_at_.find(id.value); it != pending_at_.end()) {
    pending_[it->second] = std::move(p);
  } else {
    pending_at_[id.value] = pending_.size();
    pending_.push_back(std::move(p));
  }
}

const PendingJob& Engine::PendingOf(core::JobId id) const {
  return pending_[pending_at_.at(id.value)];
}

void Engine::DropPending(core::JobId id) {
  auto it = pending_at_.find(id.value);
  if (it == pending_at_.end()) return;
  const std::size_t at = it->second;
  pending_at_.erase(it);
  if (at + 1 != pending_.size()) {
    pending_[at] = std::move(pending_.back());
    pending_at_[pending_[at].id.value] = at;
  }
  pending_.pop_back();
}

const core::Quota& Engine::QuotaIn(const std::map<std::string, core::Quota>& quotas,
                                   const std::string& project) {
  static const core::Quota kNone;
  auto it = quotas.find(project);
  return it == quotas.end() ? kNone : it->second;
}

void Engine::Cycle() {
  const core::TimePoint now = clock_.Now();
  auto projects = store_.ListProjects();
  std::map<std::string, core::Quota> quotas;
  if (projects)
    for (const auto& p : *projects) quotas[p.name] = p.quota;
  // A quota's per-job time limit applies to jobs that declared none: a
  // changed quota (rare) reads the whole queue again, each pending job's
  // request made under the new one.
  const bool quotas_changed = quotas != quotas_;
  if (quotas_changed) {
    quotas_ = quotas;
    cursor_ = -1;
  }
  if (!Refresh()) return;

  Snapshot s;
  for (const auto& [id, need] : needs_) s.needs.emplace_hint(s.needs.end(), id, NeedStatus{need.status, need.action});
  s.paused = SettingFlag(store_, "queue", "paused");
  if (options_.disk_check) {
    // Logged once per episode, and the reason kept as the episode began:
    // a figure that changes each cycle would write each waiting job's
    // reason again each cycle, onto the disk that is short.
    std::string short_now = options_.disk_check();
    if (short_now.empty() != disk_short_.empty()) {
      if (short_now.empty())
        LogInfo("disk space is back above the reserve; jobs start again");
      else
        LogError(StrCat("no job starts: ", short_now));
      disk_short_ = std::move(short_now);
    }
    s.disk_short = disk_short_;
  }
  s.nodes = options_.nodes;
  for (auto& n : s.nodes)
    if (SettingFlag(store_, "node/" + n.name, "drained")) n.schedulable = false;
  // Only when some project has a disk limit: it sums over every job.
  std::map<std::string, core::ProjectDisk> disk;
  if (std::any_of(quotas.begin(), quotas.end(), [](const auto& q) { return q.second.max.disk_bytes.has_value(); }))
    if (auto d = store_.DiskByProject()) disk = std::move(*d);
  for (const auto& [p, q] : quotas) {
    ProjectState& ps = s.projects[p];
    if (auto it = disk.find(p); it != disk.end()) ps.disk = it->second;
    ps.quota = q;
    if (auto it = usage_.find(p); it != usage_.end())
      ps.usage = Decay(it->second.first, it->second.second, now);
    if (q.budget) ps.gpu_hours_spent = GpuHoursSpent(p, BudgetPeriodKey(q.budget->period, now));
    if (auto v = store_.GetSetting("project/" + p)) {
      json j = ParseOr(*v);
      if (j.is_object() && j.value("paused", false)) {
        ps.paused = true;
        ps.paused_reason = j.value("reason", "");
      }
    }
  }

  std::vector<core::JobTransition> batch;
  // The pending jobs are kept as the planner reads them (pending_); here,
  // the running ones and any whose spec does not load.
  for (const auto& [_, job] : active_) {
    if (const SpecFacts& f = FactsOf(job); !f.valid) {
      // Never run on guessed limits: a spec that does not load fails the
      // job (a running one is left to end; its limits were applied).
      if (job.state() == core::JobState::kPending) {
        LogError(StrCat("job ", job.id.value, ": its stored spec does not load: ", f.error));
        batch.push_back({job.id, job.status, StatusCode::kInternalError,
                         StrCat("internal_error: the job's stored spec does not load: ", f.error),
                         {}});
        continue;
      }
    }
    if (job.state() != core::JobState::kRunning) continue;
    const core::Run* run = RunOf(job.run_id);
    const std::string user = run ? run->submitted_by : "";
    core::Resources request = RequestOf(job, quotas[job.project]);
    {
      // What it was placed with, not what a changed quota would give now.
      if (job.placed) request = *job.placed;
      RunningJob r{job.id, job.project, user, job.node, request, {},
                   job.started_at.value_or(now)};
      r.gpus = GpuSlots(job);
      s.running.push_back(std::move(r));
      // The engine's own time limit, behind the sandbox's: the attempt
      // ends timed_out, not cancelled.
      const core::TimePoint overdue = r.started_at + request.time_limit + options_.overrun_grace;
      if (executor_ && now > overdue && cancel_sent_.insert({job.id, job.attempt}).second) {
        overran_.insert({job.id, job.attempt});
        LogError(StrCat("job ", job.id.value, " attempt ", job.attempt, " ran ",
                        options_.overrun_grace.count(), " s past its time limit of ",
                        core::FormatDuration(request.time_limit),
                        " without a result; stopping it"));
        if (auto c = executor_->Cancel(job.id, job.attempt, core::Executor::CancelMode::kNow); !c)
          LogError(StrCat("job ", job.id.value, ": cannot stop it: ", c.error().message));
      } else if (executor_ && now > overdue + options_.overrun_grace &&
                 overran_.contains({job.id, job.attempt}) &&
                 supervisor_killed_.insert({job.id, job.attempt}).second) {
        // The stop was not answered: its supervisor hangs (or is frozen).
        LogError(StrCat("job ", job.id.value, " attempt ", job.attempt,
                        " did not stop; killing its supervisor and container"));
        if (auto c = executor_->Cancel(job.id, job.attempt,
                                       core::Executor::CancelMode::kSupervisor);
            !c)
          LogError(StrCat("job ", job.id.value, ": cannot kill it: ", c.error().message));
      }
      continue;
    }
  }
  // Attempts still running here that the store says are over (cancelled
  // through the API, or by a revoked permit): stop their containers.
  if (executor_) {
    for (const auto& attempt : launched_) {
      auto it = active_.find(attempt.first);
      bool running = it != active_.end() && it->second.attempt == attempt.second &&
                     it->second.state() == core::JobState::kRunning;
      if (!running && cancel_sent_.insert(attempt).second) {
        // A revoked permit stops the job at once, without a grace time.
        auto now_job = store_.GetJob(attempt.first);
        const bool revoked = now_job && now_job->status == StatusCode::kPermitRevoked;
        executor_->Cancel(attempt.first, attempt.second,
                          revoked ? core::Executor::CancelMode::kNow
                                  : core::Executor::CancelMode::kGraceful);
      }
    }
  }

  {
    int gpus = 0;
    for (const auto& r : s.running) gpus += static_cast<int>(r.gpus.size());
    std::lock_guard lock(mu_);
    stats_.running_jobs = static_cast<int>(s.running.size());
    stats_.gpus_allocated = gpus;
  }
  // Moved in and out, never copied: with 10,000 waiting, copying them was
  // most of a cycle. A bounded cycle moves only those it plans.
  const bool full = options_.queue_depth <= 0 || !last_full_ || quotas_changed ||
                    now - *last_full_ >= options_.full_plan_every;
  std::vector<std::size_t> planned;
  if (full) {
    last_full_ = now;
    s.pending = std::move(pending_);
  } else {
    planned = FirstInLine(pending_, s.needs, options_.queue_depth, now);
    s.pending.reserve(planned.size());
    for (std::size_t i : planned) s.pending.push_back(std::move(pending_[i]));
  }
  {
    std::lock_guard lock(mu_);
    stats_.pending_jobs = static_cast<int>(full ? s.pending.size() : pending_.size());
    stats_.full_cycles += full;
  }
  Decisions d = Plan(s, now);
  if (full) {
    pending_ = std::move(s.pending);
  } else {
    for (std::size_t k = 0; k < planned.size(); ++k) pending_[planned[k]] = std::move(s.pending[k]);
  }
  for (const auto& f : d.dependency_failed) {
    const PendingJob& job = PendingOf(f.job);
    batch.push_back({job.id, job.status, StatusCode::kDependencyFailed, f.reason, {}});
  }
  for (const auto& w : d.waits) {
    const PendingJob& job = PendingOf(w.job);
    if (job.status == w.code && job.reason == w.reason) continue;
    batch.push_back({job.id, job.status, w.code, w.reason, {}});
  }
  touched_ += batch.size();
  LaunchAll(d.starts, std::move(batch));
}

void Engine::LaunchAll(const std::vector<scheduler::Start>& starts,
                       std::vector<core::JobTransition> waits) {
  const core::TimePoint now = clock_.Now();
  // The cycle's waits and failures are written in the starts' transaction:
  // one commit (an fsync) fewer per cycle.
  const std::size_t n_waits = waits.size();
  std::vector<core::JobTransition> preparing = std::move(waits);
  // Per entry of `preparing`: none for a wait.
  std::vector<std::optional<core::LaunchRequest>> requests(n_waits);
  for (const auto& start : starts) {
    // The whole job (the view keeps no spec), as planned: a job that moved
    // since is refused by the transition below.
    auto stored = store_.GetJob(start.job);
    if (!stored) {
      LogError(StrCat("job ", start.job.value, ": cannot read it to start it (next cycle retries): ",
                      stored.error().message));
      continue;
    }
    core::Job& job = *stored;
    job.status = PendingOf(start.job).status;
    const core::Run* run = RunOf(job.run_id);
    if (!run) continue;
    auto request = preparer_.Prepare(job, *run, {start.node, start.gpus, start.resources});
    if (!request) {
      // No valid permit covers the job's data any more (permit_invalid), or
      // the commit is over the workspace limit (workspace_limit): for the
      // researcher to act on; anything else is ours.
      const core::ErrorCode code = request.error().code;
      const bool permit = code == core::ErrorCode::kPermissionDenied;
      const bool workspace = code == core::ErrorCode::kResourceExhausted;
      const bool changed = code == core::ErrorCode::kFailedPrecondition;
      const StatusCode to = permit      ? StatusCode::kPermitInvalid
                            : workspace ? StatusCode::kWorkspaceLimit
                                        : StatusCode::kInternalError;
      preparing.push_back({job.id, job.status, to,
                           StrCat(permit      ? "permit_invalid: "
                                  : workspace ? "workspace_limit: "
                                  : changed   ? "cannot start: "
                                              : "internal_error: ",
                                  request.error().message),
                           {}});
      requests.emplace_back();
      continue;
    }
    request->attempt = job.attempt;
    request->attempt_key = core::AttemptKey(job, job.attempt);
    // Stored as nvidia-ctk names them, which is what people and the
    // accounting see (sluss job show, the API), not the slot numbers.
    std::vector<std::string> gpus;
    for (int g : start.gpus) gpus.push_back(GpuName(start.node, g));
    preparing.push_back({job.id, job.status, StatusCode::kPreparing,
                         StrCat("starting on ", start.node),
                         core::JobUpdate{.node = start.node, .gpus = gpus,
                                         .placed = request->resources,
                                         .workspace_bytes = request->workspace_bytes}});
    requests.push_back(std::move(*request));
  }
  if (preparing.empty()) return;
  // Persisted first: a crash after this line re-attaches or relaunches.
  auto persisted = store_.TransitionJobs(preparing, now);
  if (!persisted) {
    // Nothing launched; the jobs are still pending and the next cycle plans
    // them again.
    LogError(StrCat("recording ", n_waits, " waits and failures and starting ",
                    preparing.size() - n_waits, " jobs failed (nothing launched; next cycle retries): ",
                    persisted.error().message));
    return;
  }
  if (preparing.size() == n_waits) return;
  std::vector<core::JobTransition> executing;
  int started = 0;
  for (std::size_t i = 0; i < preparing.size(); ++i) {
    if (!requests[i] || !(*persisted)[i]) continue;  // failed, or moved meanwhile (cancelled)
    const core::LaunchRequest& r = *requests[i];
    auto launched = executor_ ? executor_->Launch(r)
                              : core::Result<void>(core::Internal("no executor"));
    if (!launched) {
      executing.push_back({r.job, StatusCode::kPreparing, StatusCode::kInternalError,
                           StrCat("internal_error: ", launched.error().message), {}});
      continue;
    }
    launched_.insert({r.job, r.attempt});
    executing.push_back({r.job, StatusCode::kPreparing, StatusCode::kExecuting,
                         StrCat("running on ", r.node), {}});
    ++started;
  }
  // A launched job left `preparing` by a failed write is still watched: its
  // end moves it on (RecordFinished passes through executing).
  if (auto r = store_.TransitionJobs(executing, clock_.Now()); !r)
    LogError(StrCat("recording ", executing.size(), " launches failed: ", r.error().message));
  std::lock_guard lock(mu_);
  stats_.started += started;
}

}  // namespace sluss::scheduler
