// Properties of the planner over thousands of random states: whatever the
// queue, no node, GPU or quota is overcommitted, no job starts before its
// needs, and every pending job gets exactly one decision (held ones none).

#include <map>
#include <random>
#include <set>

#include <catch2/catch.hpp>

#include "scheduler/planner.h"

namespace sluss::scheduler {
namespace {

using core::JobId;
using core::StatusCode;
using namespace std::chrono_literals;

Snapshot RandomSnapshot(std::mt19937& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const core::TimePoint now = core::FromUnixMillis(1'800'000'000'000);
  Snapshot s;
  int nodes = 1 + pick(4);
  for (int n = 0; n < nodes; ++n) {
    NodeState node{"n" + std::to_string(n), {0, 1000 * (1 + pick(16)), std::int64_t{1 + pick(64)} << 30, 0s, 0},
                   {}, {}, pick(5) != 0};
    for (int g = 0; g < pick(5); ++g) node.gpus.push_back(g);
    s.nodes.push_back(node);
  }
  int projects = 1 + pick(4);
  for (int p = 0; p < projects; ++p) {
    auto& ps = s.projects["p" + std::to_string(p)];
    if (pick(2)) ps.quota.max.gpus = pick(4);
    if (pick(2)) ps.quota.max_running_jobs = pick(6);
    if (pick(3) == 0) ps.quota.per_user.max_running_jobs = 1 + pick(3);
    if (pick(3) == 0) ps.quota.budget = core::Quota::Budget{static_cast<double>(pick(10)), "month"};
    ps.quota.fairshare_weight = 0.5 + pick(4);
    ps.usage = pick(100);
    ps.gpu_hours_spent = pick(5);
  }
  std::int64_t id = 1;
  // Running jobs that fit their nodes.
  for (auto& node : s.nodes) {
    std::int64_t cpus = node.capacity.milli_cpus, mem = node.capacity.memory_bytes;
    std::vector<int> gpus = node.gpus;
    for (int j = 0; j < pick(4); ++j) {
      core::Resources r{pick(2) ? std::min<int>(1, static_cast<int>(gpus.size())) : 0, 1000,
                        std::int64_t{1} << 30, std::chrono::minutes(1 + pick(120)), 0};
      if (r.milli_cpus > cpus || r.memory_bytes > mem) break;
      cpus -= r.milli_cpus;
      mem -= r.memory_bytes;
      std::vector<int> given(gpus.begin(), gpus.begin() + r.gpus);
      gpus.erase(gpus.begin(), gpus.begin() + r.gpus);
      s.running.push_back({JobId{id++}, "p" + std::to_string(pick(projects)), "u" + std::to_string(pick(3)),
                           node.name, r, given, now - std::chrono::minutes(pick(60))});
    }
  }
  std::vector<JobId> finished;
  for (int j = 0; j < pick(10); ++j) {
    JobId need{id++};
    static const StatusCode kCodes[] = {StatusCode::kSucceeded, StatusCode::kCached, StatusCode::kExecuting,
                                        StatusCode::kNonzeroExit, StatusCode::kCancelledByUser,
                                        StatusCode::kWaitingOnResources};
    s.needs[need] = {kCodes[pick(6)], "need" + std::to_string(need.value)};
    finished.push_back(need);
  }
  for (int j = 0; j < pick(40); ++j) {
    PendingJob p;
    p.id = JobId{id++};
    p.project = "p" + std::to_string(pick(projects));
    p.user = "u" + std::to_string(pick(3));
    p.status = pick(8) == 0 ? StatusCode::kHeld : StatusCode::kWaitingOnResources;
    p.request = {pick(3), 500 * (1 + pick(8)), std::int64_t{1 + pick(16)} << 30, std::chrono::minutes(1 + pick(240)), 0};
    for (int k = 0; k < pick(3) && !finished.empty(); ++k) p.needs.push_back(finished[pick(static_cast<int>(finished.size()))]);
    if (pick(6) == 0) p.eligible_at = now + std::chrono::seconds(pick(60) - 30);
    p.submitted_at = now - std::chrono::seconds(pick(1000));
    s.pending.push_back(p);
  }
  s.paused = pick(10) == 0;
  return s;
}

TEST_CASE("planner properties over 3,000 random states") {
  std::mt19937 rng(20261128);
  const core::TimePoint now = core::FromUnixMillis(1'800'000'000'000);
  for (int round = 0; round < 3000; ++round) {
    Snapshot s = RandomSnapshot(rng);
    Decisions d = Plan(s, now);
    INFO("round " << round);

    std::map<JobId, int> decided;
    for (const auto& st : d.starts) ++decided[st.job];
    for (const auto& w : d.waits) ++decided[w.job];
    for (const auto& f : d.dependency_failed) ++decided[f.job];
    std::map<JobId, const PendingJob*> pending;
    for (const auto& p : s.pending) pending[p.id] = &p;

    for (const auto& p : s.pending) {
      bool need_failed = false;
      for (JobId n : p.needs) {
        auto st = core::StateOf(s.needs.at(n).status);
        need_failed |= st == core::JobState::kFailed || st == core::JobState::kCancelled;
      }
      if (p.status == StatusCode::kHeld && !need_failed) {
        CHECK(decided[p.id] == 0);
      } else {
        CHECK(decided[p.id] == 1);
      }
    }
    for (const auto& f : d.dependency_failed) {
      bool failed = false;
      for (JobId n : pending.at(f.job)->needs) {
        auto st = core::StateOf(s.needs.at(n).status);
        failed |= st == core::JobState::kFailed || st == core::JobState::kCancelled;
      }
      CHECK(failed);
    }

    // Capacity, GPUs and quotas after the starts.
    std::map<std::string, std::int64_t> cpus, mem;
    std::map<std::string, std::set<int>> gpus;
    std::map<std::string, int> project_gpus, project_jobs;
    std::map<std::string, double> project_gpu_hours;
    auto take = [&](const std::string& node, const std::string& project, const core::Resources& r,
                    const std::vector<int>& given) {
      cpus[node] += r.milli_cpus;
      mem[node] += r.memory_bytes;
      for (int g : given) CHECK(gpus[node].insert(g).second);  // never given twice
      project_gpus[project] += r.gpus;
      project_jobs[project] += 1;
      project_gpu_hours[project] += r.gpus * std::chrono::duration<double, std::ratio<3600>>(r.time_limit).count();
    };
    for (const auto& r : s.running) take(r.node, r.project, r.request, r.gpus);
    std::map<std::string, int> before_jobs = project_jobs, before_gpus = project_gpus;
    for (const auto& st : d.starts) {
      const PendingJob& p = *pending.at(st.job);
      CHECK(p.status != StatusCode::kHeld);
      CHECK_FALSE(s.paused);
      CHECK(static_cast<int>(st.gpus.size()) == p.request.gpus);
      for (JobId n : p.needs) CHECK(core::StateOf(s.needs.at(n).status) == core::JobState::kSucceeded);
      CHECK((!p.eligible_at || *p.eligible_at <= now));
      const NodeState* node = nullptr;
      for (const auto& n : s.nodes)
        if (n.name == st.node) node = &n;
      REQUIRE(node);
      CHECK(node->schedulable);
      for (int g : st.gpus) CHECK(std::find(node->gpus.begin(), node->gpus.end(), g) != node->gpus.end());
      take(st.node, p.project, p.request, st.gpus);
    }
    for (const auto& n : s.nodes) {
      CHECK(cpus[n.name] <= n.capacity.milli_cpus);
      CHECK(mem[n.name] <= n.capacity.memory_bytes);
    }
    for (const auto& [name, ps] : s.projects) {
      const auto& q = ps.quota;
      // A lowered quota never stops what runs: compare only what started.
      if (q.max.gpus && project_gpus[name] > before_gpus[name]) CHECK(project_gpus[name] <= *q.max.gpus);
      if (q.max_running_jobs && project_jobs[name] > before_jobs[name])
        CHECK(project_jobs[name] <= *q.max_running_jobs);
      if (q.budget && project_gpus[name] > before_gpus[name])
        CHECK(ps.gpu_hours_spent + project_gpu_hours[name] <= q.budget->gpu_hours + 1e-9);
    }
  }
}

}  // namespace
}  // namespace sluss::scheduler
