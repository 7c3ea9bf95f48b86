// End-to-end scheduling through the engine and a real SQLite store, with a
// fake executor whose jobs end the moment they start: jobs per second from
// submit to recorded result, and the share of that which is SQLite.
//
//   build/bench/engine_bench [JOBS] [REPETITIONS] [SLOTS]   (1000, 3, JOBS)
//
// SLOTS: how many jobs fit on the node at once. With all of them, the
// first cycle starts every job; with 2, as on a 2-CPU node, there are
// JOBS/2 cycles, each over every job still queued.
//
// Baseline in the same run: the same number of bare TransitionJob calls
// (one SQLite transaction each, synchronous=FULL): what the engine would
// cost if it wrote each change on its own. The engine writes a cycle's
// changes in one transaction.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/engine_fixture.h"
#include "bench/machine.h"
#include "scheduler/engine.h"
#include "store/store.h"

using namespace sluss;
using Clock = std::chrono::steady_clock;

namespace {

// Every launched job ends at once, successfully.
class InstantExecutor final : public core::Executor {
 public:
  explicit InstantExecutor(Callbacks cb) : cb_(std::move(cb)) {}
  core::Result<void> Launch(const core::LaunchRequest& r) override {
    core::JobOutcome o;
    o.status = core::StatusCode::kSucceeded;
    o.exit_code = 0;
    cb_.finished(r.job, r.attempt, o);
    return {};
  }
  core::Result<void> Cancel(core::JobId, int, CancelMode) override { return {}; }
  std::vector<core::RunningAttempt> Reattach(const std::vector<core::RunningAttempt>&) override {
    return {};
  }
  std::vector<std::string> LogFiles(core::JobId, int, const std::string&, const std::string&) const override {
    return {};
  }

 private:
  Callbacks cb_;
};

}  // namespace

int main(int argc, char** argv) {
  const int jobs = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  // SLOTS: how many jobs fit on the node at once (default: all).
  const int slots = argc > 3 ? std::atoi(argv[3]) : jobs;
  const std::string dir = "/tmp/sluss-engine-bench-" + std::to_string(::getpid());
  std::vector<double> engine_s, store_s;
  std::vector<int> cycles;
  for (int rep = 0; rep < reps; ++rep) {
    auto fresh = bench::Fresh(dir, jobs, core::StatusCode::kWaitingOnResources, 100);
    auto store = std::move(fresh.store);
    const core::RunId run = fresh.run;
    core::SystemClock clock;
    bench::BarePreparer preparer;
    scheduler::Engine engine(*store, clock, preparer, bench::OneNode(slots, 100, false));
    InstantExecutor exec(engine.ExecutorCallbacks());
    engine.Start(exec);
    auto t0 = Clock::now();
    int cycle = 0;
    while (cycle < 100000) {
      engine.RunOnce();
      ++cycle;
      if (store->ListActiveJobs()->jobs.empty()) break;
    }
    cycles.push_back(cycle);
    engine_s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    std::size_t done = 0;
    auto finished = store->ListJobs(run);
    for (const auto& j : *finished) done += j.status == core::StatusCode::kSucceeded;
    if (done != static_cast<std::size_t>(jobs)) {
      std::fprintf(stderr, "only %zu of %d jobs succeeded\n", done, jobs);
      return 1;
    }
    // Baseline: three bare transitions per job, as the engine makes.
    fresh = bench::Fresh(dir, jobs, core::StatusCode::kWaitingOnResources, 100);
    store = std::move(fresh.store);
    auto list = *store->ListJobs(fresh.run);
    auto b0 = Clock::now();
    for (const auto& j : list) {
      (void)store->TransitionJob(j.id, j.status, core::StatusCode::kPreparing, "", clock.Now());
      (void)store->TransitionJob(j.id, core::StatusCode::kPreparing, core::StatusCode::kExecuting, "", clock.Now());
      (void)store->TransitionJob(j.id, core::StatusCode::kExecuting, core::StatusCode::kSucceeded, "", clock.Now());
    }
    store_s.push_back(std::chrono::duration<double>(Clock::now() - b0).count());
  }
  std::filesystem::remove_all(dir);
  std::sort(engine_s.begin(), engine_s.end());
  std::sort(store_s.begin(), store_s.end());
  const double e = engine_s[engine_s.size() / 2], b = store_s[store_s.size() / 2];
  std::printf("machine: %s\n", bench::Machine().c_str());
  std::printf("jobs: %d, slots: %d, repetitions: %d, SQLite WAL synchronous=FULL on %s\n\n", jobs,
              slots, reps, "/tmp");
  std::printf("%-46s %9s %9s %9s %10s\n", "", "min s", "med s", "max s", "jobs/s");
  std::printf("%-46s %9.3f %9.3f %9.3f %10.0f\n", "engine: submit to recorded result (instant jobs)",
              engine_s.front(), e, engine_s.back(), jobs / e);
  std::printf("%-46s %9.3f %9.3f %9.3f %10.0f\n", "baseline: 3 bare transitions per job", store_s.front(),
              b, store_s.back(), jobs / b);
  std::printf("\nengine / baseline: %.2fx; %d to %d cycles; %.0f status changes/s through the engine\n",
              e / b, *std::min_element(cycles.begin(), cycles.end()),
              *std::max_element(cycles.begin(), cycles.end()), 3.0 * jobs / e);
  // One line for bench/run-all's table: figure; sluss; peer; peer's; ratio; goal.
  std::printf("summary: engine and SQLite, instant jobs; %.0f jobs/s; 3 bare transactions a job; %.0f jobs/s; %.1fx; -\n",
              jobs / e, jobs / b, b / e);
  return 0;
}
