// The planner's cycle time over large queues, and decisions per second.
//
//   build/bench/planner_bench [REPETITIONS]     (default 5)
//
// 64 nodes x 8 GPUs (64 CPUs, 512 GiB each), 50 projects with quotas, and
// 1,000 / 10,000 / 100,000 pending jobs (a quarter with GPUs, a third with
// needs, some held), against half the cluster already running. Baseline in
// the same run: sorting the same pending jobs by age, the least any
// scheduler does per cycle. Goal (issue): a cycle over 10,000 pending jobs in
// under 20 ms.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/machine.h"
#include "scheduler/planner.h"

using namespace sluss;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

scheduler::Snapshot MakeSnapshot(int pending, std::mt19937& rng) {
  scheduler::Snapshot s;
  const core::TimePoint now = core::FromUnixMillis(1'800'000'000'000);
  for (int n = 0; n < 64; ++n) {
    scheduler::NodeState node;
    node.name = "gpu" + std::to_string(n);
    node.capacity = {0, 64'000, std::int64_t{512} << 30, 0s, 0};
    for (int g = 0; g < 8; ++g) node.gpus.push_back(g);
    s.nodes.push_back(node);
  }
  for (int p = 0; p < 50; ++p) {
    auto& ps = s.projects["p" + std::to_string(p)];
    ps.quota.max.gpus = 16;
    ps.quota.max_running_jobs = 40;
    ps.quota.fairshare_weight = 1 + p % 3;
    ps.usage = rng() % 1000;
  }
  // Half the cluster runs: 32 nodes with 4 jobs of 2 GPUs each.
  std::int64_t id = 1;
  for (int n = 0; n < 32; ++n)
    for (int j = 0; j < 4; ++j)
      s.running.push_back({core::JobId{id++}, "p" + std::to_string(rng() % 50), "u", "gpu" + std::to_string(n),
                           {2, 8000, std::int64_t{32} << 30, 4h, 0}, {2 * j, 2 * j + 1},
                           now - std::chrono::minutes(rng() % 200)});
  for (int i = 0; i < pending; ++i) {
    scheduler::PendingJob j;
    j.id = core::JobId{id++};
    j.project = "p" + std::to_string(rng() % 50);
    j.user = "u" + std::to_string(rng() % 200);
    j.action = "a" + std::to_string(i);
    j.status = i % 50 == 0 ? core::StatusCode::kHeld : core::StatusCode::kWaitingOnResources;
    int gpus = i % 4 == 0 ? 1 + static_cast<int>(rng() % 4) : 0;
    j.request = {gpus, 1000 + static_cast<std::int64_t>(rng() % 8) * 1000,
                 static_cast<std::int64_t>(1 + rng() % 32) << 30, std::chrono::minutes(10 + rng() % 600), 0};
    if (i % 3 == 0 && i > 0) {
      core::JobId need{id - 1 - static_cast<std::int64_t>(rng() % std::min(i, 50))};
      j.needs.push_back(need);
      s.needs[need] = {i % 6 == 0 ? core::StatusCode::kSucceeded : core::StatusCode::kWaitingOnResources,
                       "dep"};
    }
    j.submitted_at = now - std::chrono::seconds(rng() % 100000);
    s.pending.push_back(std::move(j));
  }
  return s;
}

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(3, std::atoi(argv[1])) : 5;
  std::mt19937 rng(42);
  std::printf("machine: %s\n", bench::Machine().c_str());
  std::printf("cluster: 64 nodes x 8 GPUs, 50 projects, 128 jobs running; %d repetitions\n\n", reps);
  std::printf("%-10s %10s %10s %10s %12s %14s %12s %10s\n", "pending", "min ms", "med ms", "max ms",
              "decisions", "decisions/s", "sort ms", "vs sort");
  std::string summary;
  const core::TimePoint now = core::FromUnixMillis(1'800'000'000'000);
  for (int pending : {1000, 10000, 100000}) {
    scheduler::Snapshot s = MakeSnapshot(pending, rng);
    std::vector<double> ms, sort_ms;
    std::size_t decisions = 0;
    for (int r = 0; r < reps; ++r) {
      auto t0 = Clock::now();
      scheduler::Decisions d = scheduler::Plan(s, now);
      auto t1 = Clock::now();
      decisions = d.starts.size() + d.waits.size() + d.dependency_failed.size();
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      // Baseline: order the same pending jobs by age.
      std::vector<const scheduler::PendingJob*> order;
      auto b0 = Clock::now();
      for (const auto& j : s.pending) order.push_back(&j);
      std::sort(order.begin(), order.end(), [](auto* a, auto* b) {
        return std::tie(a->submitted_at, a->id) < std::tie(b->submitted_at, b->id);
      });
      auto b1 = Clock::now();
      sort_ms.push_back(std::chrono::duration<double, std::milli>(b1 - b0).count());
    }
    std::sort(ms.begin(), ms.end());
    std::sort(sort_ms.begin(), sort_ms.end());
    const double med = ms[ms.size() / 2], base = sort_ms[sort_ms.size() / 2];
    std::printf("%-10d %10.2f %10.2f %10.2f %12zu %14.0f %12.2f %9.1fx\n", pending, ms.front(), med,
                ms.back(), decisions, decisions / (med / 1000), base, med / base);
    if (pending == 10000) {
      char line[256];
      std::snprintf(line, sizeof line,
                    "summary: planner cycle, 10,000 pending; %.1f ms; sort by age; %.1f ms; %.1fx; < 20 ms\n",
                    med, base, med / base);
      summary = line;
    }
  }
  // One line for bench/run-all's table: figure; sluss; peer; peer's; ratio; goal.
  if (!summary.empty()) std::printf("\n%s", summary.c_str());
  return 0;
}
