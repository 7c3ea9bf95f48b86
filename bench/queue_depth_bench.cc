// Does the depth of the queue cost anything per job? The same JOBS trivial
// jobs drained through the engine's own loop and a real SQLite store, once
// with all of them queued at once (deep) and once fed so that about
// SHALLOW wait at any time (shallow), in the same run; then the engine's
// cycle, measured through the engine (store reads, planner, writes), with
// PENDING jobs waiting while one job at a time ends and the next starts.
//
//   build/bench/queue_depth_bench [JOBS] [SHALLOW] [SLOTS] [JOB_MS] [PENDING]
//                                 (2000, 20, 2, 20, 10000)
//
// SLOTS jobs fit on the node at once (2: a 2-CPU node, jobs of one CPU);
// each job "runs" JOB_MS milliseconds on a timer of the fake executor (no
// container: what is measured is the scheduler). Every job is created
// `held` before the clock starts, in both phases; the deep phase releases
// them all in one transaction, the shallow one SHALLOW/2 at a time as the
// queue drains.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/machine.h"
#include "scheduler/engine.h"
#include "store/store.h"

using namespace sluss;
using Clock = std::chrono::steady_clock;

namespace {

class Preparer final : public core::LaunchPreparer {
 public:
  core::Result<core::LaunchRequest> Prepare(const core::Job& job, const core::Run&,
                                            const core::Placement& start) override {
    core::LaunchRequest r;
    r.job = job.id;
    r.node = start.node;
    return r;
  }
};

// Each launched job ends successfully `run_for` after its launch, on a
// thread of its own; with `run_for` zero, only when Finish says so.
class TimerExecutor final : public core::Executor {
 public:
  TimerExecutor(Callbacks cb, std::chrono::milliseconds run_for)
      : cb_(std::move(cb)), run_for_(run_for), thread_([this] { Loop(); }) {}
  ~TimerExecutor() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  core::Result<void> Launch(const core::LaunchRequest& r) override {
    std::lock_guard lock(mu_);
    ++launched_;
    if (run_for_.count() == 0) {
      held_.push_back({r.job, r.attempt});
      return {};
    }
    due_.emplace(Clock::now() + run_for_, std::make_pair(r.job, r.attempt));
    cv_.notify_one();
    return {};
  }
  // Ends the oldest job still running (manual mode).
  bool Finish() {
    std::pair<core::JobId, int> j;
    {
      std::lock_guard lock(mu_);
      if (held_.empty()) return false;
      j = held_.front();
      held_.erase(held_.begin());
    }
    End(j);
    return true;
  }
  int launched() {
    std::lock_guard lock(mu_);
    return launched_;
  }
  core::Result<void> Cancel(core::JobId, int, CancelMode) override { return {}; }
  std::vector<core::RunningAttempt> Reattach(const std::vector<core::RunningAttempt>&) override {
    return {};
  }
  std::vector<std::string> LogFiles(core::JobId, int, const std::string&,
                                    const std::string&) const override {
    return {};
  }

 private:
  void End(std::pair<core::JobId, int> j) {
    core::JobOutcome o;
    o.status = core::StatusCode::kSucceeded;
    o.exit_code = 0;
    cb_.finished(j.first, j.second, o);
  }
  void Loop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (due_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto it = due_.begin();
      if (it->first > Clock::now()) {
        cv_.wait_until(lock, it->first);
        continue;
      }
      auto j = it->second;
      due_.erase(it);
      lock.unlock();
      End(j);
      lock.lock();
    }
  }

  Callbacks cb_;
  std::chrono::milliseconds run_for_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  int launched_ = 0;
  std::multimap<Clock::time_point, std::pair<core::JobId, int>> due_;
  std::vector<std::pair<core::JobId, int>> held_;
  std::thread thread_;
};

// A store with `jobs` jobs of 1 CPU, in one run, each `status`.
std::unique_ptr<store::SqliteStore> Fresh(const std::string& dir, int jobs, core::StatusCode status,
                                          std::vector<core::JobId>* ids) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto store = std::move(*store::SqliteStore::Open(dir + "/sluss.db"));
  core::SystemClock clock;
  core::Project p;
  p.name = "p1";
  p.created_at = clock.Now();
  (void)store->CreateProject(p);
  core::NewRun r;
  r.project = "p1";
  r.submitted_by = "alice@example.org";
  for (int i = 0; i < jobs; ++i)
    r.jobs.push_back({"a" + std::to_string(i), status, "",
                      R"({"image":"x","resources":{"milli_cpus":1000}})", "k" + std::to_string(i),
                      {}});
  auto run = store->CreateRun(r, clock.Now());
  if (!run) {
    std::fprintf(stderr, "creating the run failed: %s\n", run.error().message.c_str());
    std::exit(1);
  }
  auto listed = store->ListJobs(run->id);
  if (!listed) std::exit(1);
  for (const auto& j : *listed) ids->push_back(j.id);
  return store;
}

scheduler::EngineOptions Options(int slots, bool loop) {
  scheduler::EngineOptions options;
  scheduler::NodeState node;
  node.name = "n1";
  node.capacity = {0, std::int64_t{slots} * 1000, std::int64_t{1} << 40, std::chrono::seconds(0), 0};
  options.nodes = {node};
  options.run_loop = loop;
  return options;
}

void Release(core::Store& store, const std::vector<core::JobId>& ids, std::size_t from,
             std::size_t to) {
  std::vector<core::JobTransition> batch;
  for (std::size_t i = from; i < to; ++i)
    batch.push_back({ids[i], core::StatusCode::kHeld, core::StatusCode::kWaitingOnResources,
                     "released", {}});
  auto moved = store.TransitionJobs(batch, core::SystemClock().Now());
  for (std::size_t i = 0; moved && i < moved->size(); ++i)
    if (!(*moved)[i]) {
      std::fprintf(stderr, "releasing job %lld failed: %s\n",
                   static_cast<long long>(batch[i].id.value), (*moved)[i].error().message.c_str());
      std::exit(1);
    }
  if (!moved) {
    std::fprintf(stderr, "releasing jobs failed: %s\n", moved.error().message.c_str());
    std::exit(1);
  }
}

struct Drain {
  double seconds = 0;
  std::int64_t cycles = 0;
  double mean_cycle_ms = 0;
};

// Drains `jobs` jobs; `shallow` 0: all released at once.
Drain RunDrain(const std::string& dir, int jobs, int shallow, int slots,
               std::chrono::milliseconds run_for) {
  std::vector<core::JobId> ids;
  auto store = Fresh(dir, jobs, core::StatusCode::kHeld, &ids);
  core::SystemClock clock;
  Preparer preparer;
  scheduler::Engine engine(*store, clock, preparer, Options(slots, true));
  TimerExecutor exec(engine.ExecutorCallbacks(), run_for);
  const auto t0 = Clock::now();
  std::size_t released = shallow == 0 ? ids.size() : std::min<std::size_t>(shallow, ids.size());
  Release(*store, ids, 0, released);
  engine.Start(exec);
  for (;;) {
    const auto stats = engine.Stats();
    if (stats.finished >= jobs) break;
    // Waiting now: released, not yet launched.
    if (shallow > 0 && released < ids.size() &&
        static_cast<int>(released) - exec.launched() < shallow / 2) {
      const std::size_t to = std::min(ids.size(), released + shallow / 2);
      Release(*store, ids, released, to);
      released = to;
      engine.Wake();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  Drain d;
  d.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  engine.Stop();
  const auto stats = engine.Stats();
  d.cycles = stats.cycles;
  d.mean_cycle_ms = stats.cycles ? 1000 * stats.cycle_seconds_sum / stats.cycles : 0;
  return d;
}

// Cycle times with `pending` waiting: one job ends, the next starts.
std::vector<double> CycleTimes(const std::string& dir, int pending, int slots, int samples) {
  std::vector<core::JobId> ids;
  auto store = Fresh(dir, pending + slots + samples, core::StatusCode::kWaitingOnResources, &ids);
  core::SystemClock clock;
  Preparer preparer;
  scheduler::Engine engine(*store, clock, preparer, Options(slots, false));
  TimerExecutor exec(engine.ExecutorCallbacks(), std::chrono::milliseconds(0));
  engine.Start(exec);
  engine.RunOnce();  // the first cycle reads the whole queue and writes every reason
  engine.RunOnce();
  std::vector<double> ms;
  for (int i = 0; i < samples; ++i) {
    exec.Finish();
    const auto t0 = Clock::now();
    engine.RunOnce();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  const int jobs = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int shallow = argc > 2 ? std::atoi(argv[2]) : 20;
  const int slots = argc > 3 ? std::atoi(argv[3]) : 2;
  const auto run_for = std::chrono::milliseconds(argc > 4 ? std::atoi(argv[4]) : 20);
  const int pending = argc > 5 ? std::atoi(argv[5]) : 10000;
  const std::string dir = "/tmp/sluss-queue-depth-bench-" + std::to_string(::getpid());

  const Drain deep = RunDrain(dir, jobs, 0, slots, run_for);
  const Drain shal = RunDrain(dir, jobs, shallow, slots, run_for);
  const std::vector<double> cycle = CycleTimes(dir, pending, slots, 50);
  std::filesystem::remove_all(dir);

  std::printf("machine: %s\n", bench::Machine().c_str());
  std::printf("jobs: %d of 1 CPU, %d at once, each %lld ms; SQLite WAL synchronous=FULL on /tmp\n\n",
              jobs, slots, static_cast<long long>(run_for.count()));
  std::printf("%-34s %9s %9s %9s %14s\n", "", "drain s", "jobs/s", "cycles", "mean cycle ms");
  std::printf("%-34s %9.2f %9.1f %9lld %14.2f\n",
              ("deep: " + std::to_string(jobs) + " queued at once").c_str(), deep.seconds,
              jobs / deep.seconds, static_cast<long long>(deep.cycles), deep.mean_cycle_ms);
  std::printf("%-34s %9.2f %9.1f %9lld %14.2f\n",
              ("shallow: about " + std::to_string(shallow) + " queued").c_str(), shal.seconds,
              jobs / shal.seconds, static_cast<long long>(shal.cycles), shal.mean_cycle_ms);
  const double ratio = shal.seconds / deep.seconds;
  std::printf("\ndeep / shallow drain rate: %.2fx (goal: >= 0.9x)\n", ratio);
  const double median = cycle[cycle.size() / 2], p90 = cycle[cycle.size() * 9 / 10];
  std::printf("engine cycle with %d pending (one job ends, one starts; %zu cycles): median %.2f ms, "
              "p90 %.2f ms, max %.2f ms (goal: <= 20 ms)\n",
              pending, cycle.size(), median, p90, cycle.back());
  // One line for bench/run-all's table: figure; sluss; peer; peer's; ratio; goal.
  std::printf("summary: drain rate, %d queued against about %d; %.1f jobs/s; same jobs, shallow "
              "queue; %.1f jobs/s; %.2fx; >= 0.9x\n",
              jobs, shallow, jobs / deep.seconds, jobs / shal.seconds, ratio);
  std::printf("summary: engine cycle, %d pending, one end and one start; %.1f ms; -; -; -; <= 20 ms\n",
              pending, median);
  return 0;
}
