// Does the depth of the queue cost anything per job? The same JOBS trivial
// jobs drained through the engine's own loop and a real SQLite store, once
// with all of them queued at once (deep) and once fed so that about
// SHALLOW wait at any time (shallow), in the same run; then the engine's
// cycle, measured through the engine (store reads, planner, writes), with
// PENDING jobs waiting while one job at a time ends and the next starts:
// as slussd runs it (cycles bounded by EngineOptions::queue_depth, a full
// one at least once a second) and with every cycle full, in the same run.
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
//
//   build/bench/queue_depth_bench memory [PENDING]   (100000)
//
// The memory the engine holds per pending job: the process's resident size
// (and its heap in use) with PENDING jobs in a store filled by another
// process, before the engine's first cycle and after two (the whole queue
// read, every reason written, those changes read back), the difference
// divided by PENDING.

#include <malloc.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/engine_fixture.h"
#include "bench/machine.h"
#include "scheduler/engine.h"
#include "store/store.h"

using namespace sluss;
using Clock = std::chrono::steady_clock;

namespace {

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
  auto fresh = bench::Fresh(dir, jobs, core::StatusCode::kHeld, 1000);
  auto& store = fresh.store;
  const auto& ids = fresh.ids;
  core::SystemClock clock;
  bench::BarePreparer preparer;
  scheduler::Engine engine(*store, clock, preparer, bench::OneNode(slots, 1000, true));
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
// `depth`: EngineOptions::queue_depth (0: every cycle plans every job);
// full cycles come as slussd runs them, at least once a second.
double ThreadCpuMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct Cycles {
  std::vector<double> ms;      // wall clock, sorted
  std::vector<double> cpu_ms;  // the engine thread's CPU time, sorted
  std::int64_t full = 0;       // of them, full cycles
  double median() const { return ms[ms.size() / 2]; }
  double p90() const { return ms[ms.size() * 9 / 10]; }
  double cpu_median() const { return cpu_ms[cpu_ms.size() / 2]; }
};

Cycles CycleTimes(const std::string& dir, int pending, int slots, int samples, int depth) {
  auto fresh = bench::Fresh(dir, pending + slots + samples, core::StatusCode::kWaitingOnResources, 1000);
  auto& store = fresh.store;
  core::SystemClock clock;
  bench::BarePreparer preparer;
  auto options = bench::OneNode(slots, 1000, false);
  options.queue_depth = depth;
  scheduler::Engine engine(*store, clock, preparer, options);
  TimerExecutor exec(engine.ExecutorCallbacks(), std::chrono::milliseconds(0));
  engine.Start(exec);
  engine.RunOnce();  // the first cycle reads the whole queue and writes every reason
  engine.RunOnce();
  const std::int64_t full_before = engine.Stats().full_cycles;
  Cycles c;
  for (int i = 0; i < samples; ++i) {
    exec.Finish();
    const auto t0 = Clock::now();
    const double cpu0 = ThreadCpuMs();
    engine.RunOnce();
    c.cpu_ms.push_back(ThreadCpuMs() - cpu0);
    c.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  c.full = engine.Stats().full_cycles - full_before;
  std::sort(c.ms.begin(), c.ms.end());
  std::sort(c.cpu_ms.begin(), c.cpu_ms.end());
  return c;
}

// The process's resident set, in bytes (VmRSS, or VmHWM for the peak).
std::int64_t Resident(const char* field = "VmRSS:") {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field, 0) == 0) return std::atoll(line.c_str() + std::strlen(field)) * 1024;
  return 0;
}

int Memory(const std::string& dir, int pending) {
  // The store is filled in a child process, so that what filling it
  // allocated is not in this one's resident set.
  if (const pid_t child = ::fork(); child == 0) {
    auto fresh = bench::Fresh(dir, pending, core::StatusCode::kWaitingOnResources, 1000);
    std::_Exit(0);
  } else {
    int status = 0;
    if (child < 0 || ::waitpid(child, &status, 0) != child || status != 0) {
      std::fprintf(stderr, "filling the store failed\n");
      return 1;
    }
  }
  std::int64_t before = 0, after = 0, store_bytes = 0, heap_before = 0, heap_after = 0;
  {
    auto opened = store::SqliteStore::Open(dir + "/sluss.db");
    if (!opened) return 1;
    auto store = std::move(*opened);
    core::SystemClock clock;
    bench::BarePreparer preparer;
    // No room for any job: every one stays pending, with a reason.
    scheduler::Engine engine(*store, clock, preparer, bench::OneNode(0, 1000, false));
    TimerExecutor exec(engine.ExecutorCallbacks(), std::chrono::milliseconds(0));
    before = Resident();
    heap_before = static_cast<std::int64_t>(::mallinfo2().uordblks);
    engine.Start(exec);
    engine.RunOnce();
    engine.RunOnce();
    after = Resident();
    heap_after = static_cast<std::int64_t>(::mallinfo2().uordblks);
    if (engine.Stats().pending_jobs != pending) {
      std::fprintf(stderr, "the engine holds %d pending jobs, not %d\n", engine.Stats().pending_jobs,
                   pending);
      return 1;
    }
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(dir, ec))
      store_bytes += static_cast<std::int64_t>(f.file_size(ec));
  }
  std::filesystem::remove_all(dir);
  const double per_job = static_cast<double>(after - before) / pending;
  const double heap_per_job = static_cast<double>(heap_after - heap_before) / pending;
  std::printf("machine: %s\n", bench::Machine().c_str());
  std::printf("pending jobs: %d (1 CPU each, none fits); store on disk: %.1f MB\n", pending,
              static_cast<double>(store_bytes) / 1e6);
  std::printf("resident before the engine's first cycle: %.1f MB; after two cycles: %.1f MB; "
              "peak: %.1f MB\n",
              static_cast<double>(before) / 1e6, static_cast<double>(after) / 1e6,
              static_cast<double>(Resident("VmHWM:")) / 1e6);
  std::printf("engine memory per pending job: %.0f bytes resident, %.0f bytes of heap in use "
              "(goal: <= 2048)\n",
              per_job, heap_per_job);
  std::printf("summary: engine memory per pending job, %d pending; %.0f B; -; -; -; <= 2 KB\n",
              pending, per_job);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "memory")
    return Memory("/tmp/sluss-queue-depth-bench-" + std::to_string(::getpid()),
                  argc > 2 ? std::atoi(argv[2]) : 100000);
  const int jobs = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int shallow = argc > 2 ? std::atoi(argv[2]) : 20;
  const int slots = argc > 3 ? std::atoi(argv[3]) : 2;
  const auto run_for = std::chrono::milliseconds(argc > 4 ? std::atoi(argv[4]) : 20);
  const int pending = argc > 5 ? std::atoi(argv[5]) : 10000;
  const std::string dir = "/tmp/sluss-queue-depth-bench-" + std::to_string(::getpid());

  const Drain deep = RunDrain(dir, jobs, 0, slots, run_for);
  const Drain shal = RunDrain(dir, jobs, shallow, slots, run_for);
  const int depth = scheduler::EngineOptions{}.queue_depth;
  const Cycles cycle = CycleTimes(dir, pending, slots, 50, depth);
  const Cycles full = CycleTimes(dir, pending, slots, 50, 0);
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
  std::printf("engine cycle with %d pending (one job ends, one starts; %zu cycles, %lld of them "
              "full; queue depth %d): median %.2f ms, p90 %.2f ms, max %.2f ms; CPU median %.2f ms "
              "(goal: <= 20 ms)\n",
              pending, cycle.ms.size(), static_cast<long long>(cycle.full), depth, cycle.median(),
              cycle.p90(), cycle.ms.back(), cycle.cpu_median());
  std::printf("the same, every cycle full (queue_depth 0; %zu cycles): median %.2f ms, p90 %.2f ms, "
              "max %.2f ms; CPU median %.2f ms\n",
              full.ms.size(), full.median(), full.p90(), full.ms.back(), full.cpu_median());
  // One line for bench/run-all's table: figure; sluss; peer; peer's; ratio; goal.
  std::printf("summary: drain rate, %d queued against about %d; %.1f jobs/s; same jobs, shallow "
              "queue; %.1f jobs/s; %.2fx; >= 0.9x\n",
              jobs, shallow, jobs / deep.seconds, jobs / shal.seconds, ratio);
  std::printf("summary: engine cycle, %d pending, one end and one start; %.1f ms; every cycle full; "
              "%.1f ms; %.1fx; <= 20 ms\n",
              pending, cycle.median(), full.median(), full.median() / cycle.median());
  return 0;
}
