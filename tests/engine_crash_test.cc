// The engine killed with SIGKILL at random moments while 20,000 queued jobs
// drain through it and a real SQLite store, restarted each time: in the end
// every job has succeeded, each launched exactly once. The executor is a
// fake behind the Executor seam that appends each launch to a file (what a
// container's directory is to the real one): a launch the store recorded
// as `preparing` but that never reached the file is launched again at the
// restart; one that did is reported ended, never launched twice.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "scheduler/engine.h"
#include "store/store.h"
#include "tests/support/temp_dir.h"

namespace sluss {
namespace {

using core::StatusCode;

constexpr int kJobs = 20000;

class Preparer final : public core::LaunchPreparer {
 public:
  core::Result<core::LaunchRequest> Prepare(const core::Job& job, const core::Run&,
                                            const core::Placement& start) override {
    core::LaunchRequest r;
    r.job = job.id;
    r.node = start.node;
    r.resources = start.resources;
    return r;
  }
};

// Launches are lines "JOB ATTEMPT" appended to `log`; each ends at once.
class LogExecutor final : public core::Executor {
 public:
  LogExecutor(Callbacks cb, const std::string& log)
      : cb_(std::move(cb)), log_(log), fd_(::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600)) {}
  ~LogExecutor() override { ::close(fd_); }
  core::Result<void> Launch(const core::LaunchRequest& r) override {
    const std::string line = std::to_string(r.job.value) + " " + std::to_string(r.attempt) + "\n";
    if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
      return core::Internal("cannot write the launch log");
    End(r.job, r.attempt);
    return {};
  }
  core::Result<void> Cancel(core::JobId, int, CancelMode) override { return {}; }
  // Those launched before the kill ended meanwhile; the others are to launch.
  std::vector<core::RunningAttempt> Reattach(const std::vector<core::RunningAttempt>& running) override {
    std::set<std::pair<std::int64_t, int>> launched;
    std::ifstream in(log_);
    for (std::int64_t job; in >> job;) {
      int attempt = 0;
      in >> attempt;
      launched.insert({job, attempt});
    }
    std::vector<core::RunningAttempt> out;
    for (const auto& a : running) {
      if (launched.contains({a.job.value, a.attempt}))
        End(a.job, a.attempt);
      else
        out.push_back(a);
    }
    return out;
  }
  std::vector<std::string> LogFiles(core::JobId, int, const std::string&,
                                    const std::string&) const override {
    return {};
  }

 private:
  void End(core::JobId job, int attempt) {
    core::JobOutcome o;
    o.status = StatusCode::kSucceeded;
    o.exit_code = 0;
    cb_.finished(job, attempt, o);
  }
  Callbacks cb_;
  std::string log_;
  int fd_;
};

[[noreturn]] void Scheduler(const std::string& db, const std::string& log) {
  auto store = store::SqliteStore::Open(db);
  if (!store) ::_exit(2);
  core::SystemClock clock;
  Preparer preparer;
  scheduler::EngineOptions options;
  scheduler::NodeState node;
  node.name = "n1";
  node.capacity.milli_cpus = 400 * 1000;  // 400 jobs at once
  node.capacity.memory_bytes = std::int64_t{1} << 40;
  options.nodes = {node};
  scheduler::Engine engine(**store, clock, preparer, options);
  LogExecutor exec(engine.ExecutorCallbacks(), log);
  engine.Start(exec);
  for (;;) ::pause();
}

pid_t StartScheduler(const std::string& db, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) Scheduler(db, log);
  return pid;
}

void Kill(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

std::int64_t Succeeded(const std::string& db) {
  auto store = store::SqliteStore::Open(db);
  if (!store) return -1;
  std::int64_t n = 0;
  if (auto counts = (*store)->CountJobs("p1"))
    for (const auto& c : *counts)
      if (c.state == core::JobState::kSucceeded) n += c.count;
  return n;
}

TEST_CASE("engine: SIGKILL at random moments while 20,000 queued jobs drain, each launched once") {
  testing::TempDir dir;
  const std::string db = dir / "sluss.db", log = dir / "launches";
  {
    auto store = store::SqliteStore::Open(db);
    REQUIRE(store);
    core::Project p;
    p.name = "p1";
    REQUIRE((*store)->CreateProject(p));
    core::NewRun run;
    run.project = "p1";
    run.submitted_by = "alice";
    for (int i = 0; i < kJobs; ++i) {
      // Pairs, so that a kill also lands between a job and what needs it.
      core::NewJob j{"a" + std::to_string(i),
                     i % 2 ? StatusCode::kWaitingOnDependencies : StatusCode::kWaitingOnResources,
                     "", R"({"image":"x","resources":{"milli_cpus":1000}})",
                     "k" + std::to_string(i), {}};
      if (i % 2) j.needs = {"a" + std::to_string(i - 1)};
      run.jobs.push_back(std::move(j));
    }
    REQUIRE((*store)->CreateRun(run, core::SystemClock().Now()));
  }
  std::mt19937 rng(std::random_device{}());
  for (int kill = 0; kill < 8; ++kill) {
    const pid_t pid = StartScheduler(db, log);
    REQUIRE(pid > 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 1500));
    Kill(pid);
  }
  const pid_t pid = StartScheduler(db, log);
  REQUIRE(pid > 0);
  // A bound on the wait, not a timing assertion: a stuck queue fails here.
  for (int i = 0; i < 6000 && Succeeded(db) < kJobs; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Kill(pid);

  auto store = store::SqliteStore::Open(db);
  REQUIRE(store);
  REQUIRE((*store)->CheckIntegrity());
  auto runs = (*store)->ListRuns({.limit = 10});
  REQUIRE(runs);
  REQUIRE(runs->size() == 1);
  auto jobs = (*store)->ListJobs(runs->front().id);
  REQUIRE(jobs);
  REQUIRE(jobs->size() == static_cast<std::size_t>(kJobs));
  std::size_t not_once = 0;
  for (const auto& j : *jobs) not_once += j.status != StatusCode::kSucceeded || j.attempt != 1;
  CHECK(not_once == 0);

  std::ifstream in(log);
  std::multiset<std::pair<std::int64_t, int>> launches;
  for (std::int64_t job; in >> job;) {
    int attempt = 0;
    in >> attempt;
    launches.insert({job, attempt});
  }
  CHECK(launches.size() == static_cast<std::size_t>(kJobs));
  std::size_t twice = 0;
  for (auto it = launches.begin(); it != launches.end(); it = launches.upper_bound(*it))
    twice += launches.count(*it) > 1;
  CHECK(twice == 0);
}

}  // namespace
}  // namespace sluss
