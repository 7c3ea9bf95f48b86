#include "scheduler/planner.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include "core/quantity.h"
#include "core/strings.h"

namespace sluss::scheduler {
namespace {

using core::FormatBytes;
using core::FormatMilliCpus;
using core::StatusCode;
using core::StrCat;

struct Free {
  const NodeState* node = nullptr;
  std::int64_t milli_cpus = 0;
  std::int64_t memory_bytes = 0;
  std::vector<int> gpus;  // free ids, ascending
};

struct Totals {
  int gpus = 0;
  std::int64_t milli_cpus = 0;
  std::int64_t memory_bytes = 0;
  int jobs = 0;
  double gpu_hours = 0;  // reserved by running jobs: GPUs × time limit
};

double GpuHours(const core::Resources& r) {
  return r.gpus * std::chrono::duration<double, std::ratio<3600>>(r.time_limit).count();
}

std::string Hours(double h) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f h", h);
  return buf;
}

// The one reservation of a backfill cycle: the first job blocked for lack
// of resources may start on `node` at `at`; until then, others may use the
// node only when they end before `at` or fit in `slack` (what the node has
// at `at` beyond that job's needs).
struct Reservation {
  std::string node;
  core::TimePoint at;
  Totals slack;
};

bool Fits(const Free& f, const core::Resources& r) {
  return f.milli_cpus >= r.milli_cpus && f.memory_bytes >= r.memory_bytes &&
         static_cast<int>(f.gpus.size()) >= r.gpus;
}

bool FitsTotals(const Totals& t, const core::Resources& r) {
  return t.milli_cpus >= r.milli_cpus && t.memory_bytes >= r.memory_bytes && t.gpus >= r.gpus;
}

std::string Plural(int n, std::string_view one, std::string_view many) {
  return StrCat(n, " ", n == 1 ? one : many);
}

// Why `job` may not start under its project's (and user's) quota now, or
// nothing when it may.
std::optional<std::string> QuotaBlock(const PendingJob& job, const core::Quota& q,
                                      const Totals& project, const Totals& user,
                                      double spent, const core::ProjectDisk& disk) {
  const core::Resources& r = job.request;
  const std::string p = job.project;
  if (q.max.disk_bytes && disk.total() >= *q.max.disk_bytes)
    return StrCat("waiting_on_quota: project ", p, " holds ", FormatBytes(disk.total()),
                  " of disk (outputs ", FormatBytes(disk.outputs_bytes), ", workspaces ",
                  FormatBytes(disk.workspaces_bytes), "), its limit is ",
                  FormatBytes(*q.max.disk_bytes), " (max.disk)");
  if (q.budget && r.gpus > 0) {
    const double used = spent + project.gpu_hours;
    if (used + GpuHours(r) > q.budget->gpu_hours)
      return StrCat("waiting_on_quota: GPU-hour budget ", Hours(q.budget->gpu_hours), " per ",
                    q.budget->period, ", ", Hours(used), " used, job needs ", Hours(GpuHours(r)));
  }
  if (q.per_job.max_gpus && r.gpus > *q.per_job.max_gpus)
    return StrCat("waiting_on_quota: job asks for ", Plural(r.gpus, "GPU", "GPUs"),
                  ", the per-job limit of project ", p, " is ", *q.per_job.max_gpus);
  if (q.per_job.max_memory_bytes && r.memory_bytes > *q.per_job.max_memory_bytes)
    return StrCat("waiting_on_quota: job asks for ", FormatBytes(r.memory_bytes),
                  " memory, the per-job limit of project ", p, " is ",
                  FormatBytes(*q.per_job.max_memory_bytes));
  if (q.per_job.max_time && r.time_limit > *q.per_job.max_time)
    return StrCat("waiting_on_quota: job asks for ", core::FormatDuration(r.time_limit),
                  ", the per-job time limit of project ", p, " is ",
                  core::FormatDuration(*q.per_job.max_time));
  if (q.max.gpus && r.gpus > 0 && project.gpus + r.gpus > *q.max.gpus)
    return StrCat("waiting_on_quota: project ", p, " uses ", project.gpus, " of ", *q.max.gpus,
                  " GPUs, job needs ", r.gpus);
  if (q.max.milli_cpus && project.milli_cpus + r.milli_cpus > *q.max.milli_cpus)
    return StrCat("waiting_on_quota: project ", p, " uses ", FormatMilliCpus(project.milli_cpus),
                  " of ", FormatMilliCpus(*q.max.milli_cpus), " CPUs, job needs ",
                  FormatMilliCpus(r.milli_cpus));
  if (q.max.memory_bytes && project.memory_bytes + r.memory_bytes > *q.max.memory_bytes)
    return StrCat("waiting_on_quota: project ", p, " uses ", FormatBytes(project.memory_bytes),
                  " of ", FormatBytes(*q.max.memory_bytes), " memory, job needs ",
                  FormatBytes(r.memory_bytes));
  if (q.max_running_jobs && project.jobs >= *q.max_running_jobs)
    return StrCat("waiting_on_quota: project ", p, " runs ", project.jobs, " of ",
                  *q.max_running_jobs, " jobs");
  if (q.per_user.max_running_jobs && user.jobs >= *q.per_user.max_running_jobs)
    return StrCat("waiting_on_quota: ", job.user, " runs ", user.jobs, " of ",
                  *q.per_user.max_running_jobs, " jobs allowed per person in project ", p);
  if (q.per_user.max_gpus && r.gpus > 0 && user.gpus + r.gpus > *q.per_user.max_gpus)
    return StrCat("waiting_on_quota: ", job.user, " uses ", user.gpus, " of ",
                  *q.per_user.max_gpus, " GPUs allowed per person in project ", p,
                  ", job needs ", r.gpus);
  return std::nullopt;
}

bool Takes(const NodeState& n, const std::string& project) {
  return n.projects.empty() ||
         std::find(n.projects.begin(), n.projects.end(), project) != n.projects.end();
}

bool Holds(const NodeState& n, const core::Resources& r) {
  return n.capacity.milli_cpus >= r.milli_cpus && n.capacity.memory_bytes >= r.memory_bytes &&
         static_cast<int>(n.gpus.size()) >= r.gpus;
}

// Why no node may ever take `job` (none takes its project, or none is big
// enough even when empty), naming the numbers; nothing when one may.
std::optional<std::string> NoNodeReason(const PendingJob& job, const std::vector<NodeState>& nodes) {
  const core::Resources& r = job.request;
  std::vector<std::string> sizes;
  for (const auto& n : nodes) {
    if (!n.schedulable || !Takes(n, job.project)) continue;
    if (Holds(n, r)) return std::nullopt;
    if (sizes.size() < 4)
      sizes.push_back(StrCat(n.name, " has ", FormatMilliCpus(n.capacity.milli_cpus), " CPUs, ",
                             FormatBytes(n.capacity.memory_bytes), ", ",
                             Plural(static_cast<int>(n.gpus.size()), "GPU", "GPUs")));
    else if (sizes.size() == 4)
      sizes.push_back("...");
  }
  if (sizes.empty()) {
    std::vector<std::string> names;
    for (const auto& n : nodes)
      if (Takes(n, job.project)) names.push_back(n.name);
    if (names.empty())
      return StrCat("waiting_on_resources: no node pool takes project ", job.project,
                    " (a pool's projects: in slussd's config)");
    return StrCat("waiting_on_resources: every node pool that takes project ", job.project,
                  " is drained or down (", core::Join(names, ", "), ")");
  }
  return StrCat("waiting_on_resources: needs ", FormatMilliCpus(r.milli_cpus), " CPUs, ",
                FormatBytes(r.memory_bytes), " memory and ", Plural(r.gpus, "GPU", "GPUs"),
                "; no node pool for project ", job.project, " is that big (",
                core::Join(sizes, "; "), ")");
}

// "needs 2 GPUs, largest free on a node is 1": the first resource that no
// node has enough of.
std::string ResourceReason(const core::Resources& r, const std::string& project,
                           const std::vector<Free>& free) {
  int gpus = 0;
  std::int64_t cpus = 0, mem = 0;
  for (const auto& f : free) {
    if (!f.node->schedulable || !Takes(*f.node, project)) continue;
    gpus = std::max(gpus, static_cast<int>(f.gpus.size()));
    cpus = std::max(cpus, f.milli_cpus);
    mem = std::max(mem, f.memory_bytes);
  }
  if (r.gpus > gpus)
    return StrCat("waiting_on_resources: needs ", Plural(r.gpus, "GPU", "GPUs"),
                  ", largest free on a node is ", gpus);
  if (r.milli_cpus > cpus)
    return StrCat("waiting_on_resources: needs ", FormatMilliCpus(r.milli_cpus),
                  " CPUs, largest free on a node is ", FormatMilliCpus(cpus));
  if (r.memory_bytes > mem)
    return StrCat("waiting_on_resources: needs ", FormatBytes(r.memory_bytes),
                  " memory, largest free on a node is ", FormatBytes(mem));
  return StrCat("waiting_on_resources: no node has ", FormatMilliCpus(r.milli_cpus), " CPUs, ",
                FormatBytes(r.memory_bytes), " memory and ", Plural(r.gpus, "GPU", "GPUs"),
                " free together");
}

// The earliest time `r` fits on `f`'s node as running jobs end by their
// time limits, and what is left there then; nullopt when never.
std::optional<std::pair<core::TimePoint, Totals>> EarliestFit(
    const Free& f, const core::Resources& r,
    const std::vector<std::pair<core::TimePoint, core::Resources>>& ends) {
  if (!f.node->schedulable) return std::nullopt;
  Totals t{static_cast<int>(f.gpus.size()), f.milli_cpus, f.memory_bytes, 0};
  for (const auto& [at, res] : ends) {
    t.gpus += res.gpus;
    t.milli_cpus += res.milli_cpus;
    t.memory_bytes += res.memory_bytes;
    if (FitsTotals(t, r)) {
      t.gpus -= r.gpus;
      t.milli_cpus -= r.milli_cpus;
      t.memory_bytes -= r.memory_bytes;
      return std::make_pair(at, t);
    }
  }
  return std::nullopt;
}

}  // namespace

double Weight(const core::Resources& r) {
  return static_cast<double>(r.milli_cpus) / 1000.0 + 10.0 * r.gpus;
}

Decisions Plan(const Snapshot& s, core::TimePoint now) {
  Decisions d;

  // Free resources per node, and what each project and user runs.
  std::vector<Free> free;
  std::map<std::string, std::size_t> node_index;
  for (const auto& n : s.nodes) {
    node_index[n.name] = free.size();
    Free f{&n, n.capacity.milli_cpus, n.capacity.memory_bytes, n.gpus};
    std::sort(f.gpus.begin(), f.gpus.end());
    free.push_back(std::move(f));
  }
  std::map<std::string, Totals> by_project;
  std::map<std::pair<std::string, std::string>, Totals> by_user;
  std::map<std::string, double> running_weight;
  // Per node: when each running job ends (by its time limit) and what it frees.
  std::map<std::string, std::vector<std::pair<core::TimePoint, core::Resources>>> ends;
  auto charge = [&](const std::string& project, const std::string& user,
                    const core::Resources& r) {
    for (Totals* t : {&by_project[project], &by_user[{project, user}]}) {
      t->gpus += r.gpus;
      t->milli_cpus += r.milli_cpus;
      t->memory_bytes += r.memory_bytes;
      t->jobs += 1;
      t->gpu_hours += GpuHours(r);
    }
    running_weight[project] += Weight(r);
  };
  for (const auto& r : s.running) {
    charge(r.project, r.user, r.request);
    auto it = node_index.find(r.node);
    if (it == node_index.end()) continue;
    Free& f = free[it->second];
    f.milli_cpus -= r.request.milli_cpus;
    f.memory_bytes -= r.request.memory_bytes;
    for (int g : r.gpus) std::erase(f.gpus, g);
    ends[r.node].emplace_back(r.started_at + r.request.time_limit, r.request);
  }

  // 1. The DAG.
  std::map<std::string, std::deque<const PendingJob*>> ready;
  for (const auto& job : s.pending) {
    std::vector<std::string> waiting, failed;
    for (core::JobId need : job.needs) {
      auto it = s.needs.find(need);
      if (it == s.needs.end()) continue;  // not in the snapshot: treat as done
      core::JobState st = core::StateOf(it->second.status);
      if (st == core::JobState::kSucceeded) continue;
      if (st == core::JobState::kFailed || st == core::JobState::kCancelled)
        failed.push_back(StrCat(it->second.action, " ", core::Name(it->second.status)));
      else
        waiting.push_back(it->second.action);
    }
    if (!failed.empty()) {
      d.dependency_failed.push_back({job.id, StrCat("dependency_failed: ", core::Join(failed, ", "))});
      continue;
    }
    if (job.status == StatusCode::kHeld) continue;
    if (!waiting.empty()) {
      d.waits.push_back({job.id, StatusCode::kWaitingOnDependencies,
                         StrCat("waiting_on_dependencies (", core::Join(waiting, ", "), ")")});
      continue;
    }
    if (job.eligible_at && *job.eligible_at > now) {
      d.waits.push_back({job.id, StatusCode::kWaitingOnResources,
                         StrCat("waiting_on_resources: retry backoff until ",
                                core::FormatRfc3339(*job.eligible_at))});
      continue;
    }
    if (s.paused) {
      // Recorded once, as the queue's setting (who, when, why: `sluss
      // queue`, `sluss status`), not on every waiting job: pausing a queue
      // of 60,000 wrote 60,000 reasons, events and audit records, and
      // resuming it as many again. Only a job whose reason is no longer
      // true (its needs are done) or that has none says so.
      if (job.status == StatusCode::kWaitingOnDependencies || job.reason.empty())
        d.waits.push_back({job.id, StatusCode::kPaused, "paused: an admin paused the queue"});
      continue;
    }
    if (!s.disk_short.empty()) {
      d.waits.push_back({job.id, StatusCode::kWaitingOnResources, s.disk_short});
      continue;
    }
    if (auto p = s.projects.find(job.project); p != s.projects.end() && p->second.paused) {
      d.waits.push_back(
          {job.id, StatusCode::kPaused,
           StrCat("paused: an admin paused project ", job.project,
                  p->second.paused_reason.empty() ? "" : StrCat(" (", p->second.paused_reason, ")"))});
      continue;
    }
    ready[job.project].push_back(&job);
  }
  // Within a project: priority, then age.
  for (auto& [_, q] : ready)
    std::stable_sort(q.begin(), q.end(), [](const PendingJob* a, const PendingJob* b) {
      return std::tuple(-a->priority, a->submitted_at, a->id) <
             std::tuple(-b->priority, b->submitted_at, b->id);
    });

  // 2-5. Fair share order, quotas, placement, backfill.
  auto share = [&](const std::string& project) {
    auto it = s.projects.find(project);
    double weight = it == s.projects.end() ? 1.0 : std::max(it->second.quota.fairshare_weight, 1e-6);
    double usage = it == s.projects.end() ? 0.0 : it->second.usage;
    return (usage + running_weight[project]) / weight;
  };
  std::optional<Reservation> reservation;
  const core::Quota no_quota;
  std::vector<std::size_t> order;  // candidate nodes of the job at hand
  // ResourceReason by (GPUs, CPUs, memory) asked for, while nothing starts.
  // With pools for some projects only, by project too.
  std::map<std::tuple<int, std::int64_t, std::int64_t, std::string>, std::string> reasons;
  const bool restricted = std::any_of(s.nodes.begin(), s.nodes.end(),
                                      [](const NodeState& n) { return !n.projects.empty(); });
  // Nodes of different sizes: a job may fit none of them though it fits
  // the largest of each resource (admission's bound).
  const bool sized_apart = s.nodes.size() > 1;
  std::map<std::tuple<int, std::int64_t, std::int64_t, std::string>, std::optional<std::string>> never;
  // Projects by current share, lowest first; only the project that just
  // went changes its share, so each step is O(log projects).
  std::set<std::pair<double, std::string>> by_share;
  for (const auto& [project, q] : ready)
    if (!q.empty()) by_share.emplace(share(project), project);
  for (;;) {
    if (by_share.empty()) break;
    const std::string next = by_share.begin()->second;
    by_share.erase(by_share.begin());
    std::deque<const PendingJob*>& queue = ready[next];
    const PendingJob& job = *queue.front();
    queue.pop_front();
    // Back in line after this job, with the share it then has.
    struct Requeue {
      std::function<void()> f;
      ~Requeue() { f(); }
    } requeue{[&] {
      if (!queue.empty()) by_share.emplace(share(next), next);
    }};
    const core::Resources& r = job.request;

    auto pit = s.projects.find(job.project);
    const core::Quota& quota = pit == s.projects.end() ? no_quota : pit->second.quota;
    const double spent = pit == s.projects.end() ? 0.0 : pit->second.gpu_hours_spent;
    const core::ProjectDisk disk = pit == s.projects.end() ? core::ProjectDisk{} : pit->second.disk;
    if (auto why = QuotaBlock(job, quota, by_project[job.project],
                              by_user[{job.project, job.user}], spent, disk)) {
      d.waits.push_back({job.id, StatusCode::kWaitingOnQuota, *why});
      continue;
    }

    if (restricted || sized_apart) {
      // Sizes do not change within a cycle: one answer per request and project.
      auto [memo, fresh] = never.try_emplace({r.gpus, r.milli_cpus, r.memory_bytes, job.project});
      if (fresh) memo->second = NoNodeReason(job, s.nodes);
      if (memo->second) {
        d.waits.push_back({job.id, StatusCode::kWaitingOnResources, *memo->second});
        continue;
      }
    }

    // Candidate nodes: best fit on GPUs (fewest free that suffice), then order.
    order.clear();
    for (std::size_t i = 0; i < free.size(); ++i)
      if (free[i].node->schedulable && Takes(*free[i].node, job.project) && Fits(free[i], r))
        order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return free[a].gpus.size() < free[b].gpus.size();
    });
    std::optional<std::size_t> chosen;
    for (std::size_t i : order) {
      if (reservation && free[i].node->name == reservation->node &&
          now + r.time_limit > reservation->at) {
        if (!FitsTotals(reservation->slack, r)) continue;  // would delay the reserved job
        reservation->slack.gpus -= r.gpus;
        reservation->slack.milli_cpus -= r.milli_cpus;
        reservation->slack.memory_bytes -= r.memory_bytes;
      }
      chosen = i;
      break;
    }
    if (!chosen) {
      // The same for every job that asks for as much, until a start
      // changes what is free: with thousands waiting, formatted once.
      auto [memo, fresh] = reasons.try_emplace(
          {r.gpus, r.milli_cpus, r.memory_bytes, restricted ? job.project : std::string()});
      if (fresh) memo->second = ResourceReason(r, job.project, free);
      std::string why = memo->second;
      if (!reservation) {
        // The first blocked job: reserve the earliest node it can have.
        for (const auto& f : free) {
          if (!Takes(*f.node, job.project)) continue;
          auto e = ends[f.node->name];
          std::sort(e.begin(), e.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
          auto fit = EarliestFit(f, r, e);
          if (fit && (!reservation || fit->first < reservation->at))
            reservation = Reservation{f.node->name, fit->first, fit->second};
        }
        if (reservation) {
          // To the minute (rounded up), so that the reason, which is stored
          // whenever it changes, does not change every cycle.
          auto minute = std::chrono::ceil<std::chrono::minutes>(reservation->at);
          std::string at = core::FormatRfc3339(core::TimePoint(minute));
          why += StrCat("; reserved on ", reservation->node, " from ", at.substr(0, 16), "Z");
        }
      }
      d.waits.push_back({job.id, StatusCode::kWaitingOnResources, why});
      continue;
    }
    reasons.clear();
    Free& f = free[*chosen];
    Start start{job.id, f.node->name, {}, job.request};
    start.gpus.assign(f.gpus.begin(), f.gpus.begin() + r.gpus);
    f.gpus.erase(f.gpus.begin(), f.gpus.begin() + r.gpus);
    f.milli_cpus -= r.milli_cpus;
    f.memory_bytes -= r.memory_bytes;
    ends[f.node->name].emplace_back(now + r.time_limit, r);
    charge(job.project, job.user, r);
    d.starts.push_back(std::move(start));
  }
  return d;
}

}  // namespace sluss::scheduler
