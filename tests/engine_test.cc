// The engine behind its seams: a real SQLite store, a fake executor and
// preparer, a manual clock. What it persists, and when, relative to what it
// asks the executor to do.

#include "scheduler/engine.h"

#include <algorithm>
#include <map>

#include <catch2/catch.hpp>

#include "store/store.h"
#include "tests/support/manual_clock.h"
#include "tests/support/sqlite_cli.h"
#include "tests/support/temp_dir.h"

namespace sluss {
namespace {

using core::JobId;
using core::StatusCode;
using namespace std::chrono_literals;

class FakePreparer final : public core::LaunchPreparer {
 public:
  core::Result<core::LaunchRequest> Prepare(const core::Job& job, const core::Run&,
                                            const core::Placement& start) override {
    if (fail) return std::unexpected(*fail);
    core::LaunchRequest r;
    r.job = job.id;
    r.attempt = job.attempt;
    r.node = start.node;
    r.resources = start.resources;
    starts[job.action] = start;
    return r;
  }
  std::map<std::string, core::Placement> starts;  // the last, by action
  std::optional<core::Error> fail;                 // set: every Prepare fails with it
};

class FakeExecutor final : public core::Executor {
 public:
  explicit FakeExecutor(core::Store& store) : store_(store) {}
  core::Result<void> Launch(const core::LaunchRequest& r) override {
    // The decision must be durable before anything runs.
    auto job = store_.GetJob(r.job);
    status_at_launch[r.job] = job ? job->status : StatusCode::kInternalError;
    launched.push_back({r.job, r.attempt});
    return {};
  }
  core::Result<void> Cancel(JobId job, int attempt, CancelMode mode) override {
    cancelled.push_back({job, attempt});
    modes.push_back(mode);
    return {};
  }
  std::vector<core::RunningAttempt> Reattach(
      const std::vector<core::RunningAttempt>& running) override {
    reattached = running;
    return never_launched;
  }
  std::vector<std::string> LogFiles(JobId, int, const std::string&, const std::string&) const override {
    return {};
  }

  core::Store& store_;
  std::vector<std::pair<JobId, int>> launched;
  std::vector<std::pair<JobId, int>> cancelled;
  std::vector<CancelMode> modes;
  std::map<JobId, StatusCode> status_at_launch;
  std::vector<core::RunningAttempt> reattached;
  std::vector<core::RunningAttempt> never_launched;
};

struct Fixture {
  testing::TempDir dir;
  std::unique_ptr<store::SqliteStore> store;
  testing::ManualClock clock;
  FakePreparer preparer;
  scheduler::EngineOptions options;
  std::map<std::string, JobId> ids;

  Fixture() {
    store = std::move(*store::SqliteStore::Open(dir / "sluss.db"));
    core::Project p;
    p.name = "p1";
    p.created_at = clock.Now();
    REQUIRE(store->CreateProject(p));
    scheduler::NodeState node;
    node.name = "n1";
    node.capacity.milli_cpus = 8000;
    node.capacity.memory_bytes = std::int64_t{32} << 30;
    options.nodes = {node};
    options.run_loop = false;  // the test drives the cycles
  }

  // extract -> {model, table1}; `retries` for extract; `extract_spec`
  // replaces extract's stored spec.
  void Submit(int retries = 0, std::string extract_spec = "") {
    core::NewRun run;
    run.project = "p1";
    run.commit = std::string(40, 'a');
    run.submitted_by = "alice";
    auto spec = [&](int r) {
      return std::string(R"({"image":"host","resources":{"milli_cpus":1000},"retries":{"max":)") +
             std::to_string(r) + R"(,"on":["nonzero_exit","node_lost"]}})";
    };
    run.jobs = {{"extract", StatusCode::kWaitingOnResources, "",
                 extract_spec.empty() ? spec(retries) : extract_spec, "k1", {}},
                {"model", StatusCode::kWaitingOnDependencies, "", spec(0), "k2", {"extract"}},
                {"table1", StatusCode::kWaitingOnDependencies, "", spec(0), "k3", {"extract"}}};
    auto created = store->CreateRun(run, clock.Now());
    REQUIRE(created);
    auto jobs = store->ListJobs(created->id);
    REQUIRE(jobs);
    for (const auto& j : *jobs) ids[j.action] = j.id;
  }
  core::Job Job(const std::string& action) { return *store->GetJob(ids.at(action)); }
  core::JobOutcome Outcome(StatusCode status, int exit_code) {
    core::JobOutcome o;
    o.status = status;
    o.exit_code = exit_code;
    o.started_at = clock.Now() - 10s;
    o.ended_at = clock.Now();
    o.result_json = R"({"status":"x"})";
    return o;
  }
};

// An engine with its fake executor over a fixture, started (re-attached)
// and driven by hand.
struct Scheduler {
  scheduler::Engine engine;
  FakeExecutor exec;
  core::Executor::Callbacks cb;
  explicit Scheduler(Fixture& f)
      : engine(*f.store, f.clock, f.preparer, f.options),
        exec(*f.store),
        cb(engine.ExecutorCallbacks()) {}
  // Starts it and runs one cycle.
  void Start() {
    engine.Start(exec);
    engine.RunOnce();
  }
};

TEST_CASE("engine: a start is persisted before the executor is asked to launch") {
  Fixture f;
  f.Submit();
  Scheduler s(f);
  auto& exec = s.exec;
  s.Start();
  REQUIRE(exec.launched.size() == 1);
  CHECK(exec.launched[0].first == f.ids["extract"]);
  CHECK(exec.status_at_launch[f.ids["extract"]] == StatusCode::kPreparing);
  CHECK(f.Job("extract").status == StatusCode::kExecuting);
  CHECK(f.Job("extract").node == "n1");
  CHECK(f.Job("model").reason == "waiting_on_dependencies (extract)");
}

TEST_CASE("engine: a commit over the workspace limit ends workspace_limit with the reason, not internal_error") {
  Fixture f;
  f.Submit(/*retries=*/2);
  f.preparer.fail = core::Error{core::ErrorCode::kResourceExhausted,
                                "the commit's files are larger than 1 MiB, the most a job's "
                                "workspace may hold (git.max_workspace)"};
  Scheduler s(f);
  s.Start();
  CHECK(s.exec.launched.empty());
  CHECK(f.Job("extract").status == StatusCode::kWorkspaceLimit);
  CHECK(core::StateOf(f.Job("extract").status) == core::JobState::kFailed);
  CHECK(f.Job("extract").reason ==
        "workspace_limit: the commit's files are larger than 1 MiB, the most a job's workspace "
        "may hold (git.max_workspace)");
  CHECK(f.Job("extract").attempt == 1);  // not a retryable failure
  s.engine.RunOnce();
  CHECK(f.Job("model").status == StatusCode::kDependencyFailed);
  Fixture g;
  g.Submit();
  g.preparer.fail = core::Error{core::ErrorCode::kInternal, "disk gone"};
  Scheduler s2(g);
  s2.Start();
  CHECK(g.Job("extract").status == StatusCode::kInternalError);
}

TEST_CASE("engine: a paused project's jobs wait, saying so, resumed, they start") {
  Fixture f;
  f.Submit();
  REQUIRE(f.store->PutSetting("project/p1", R"({"paused": true, "reason": "audit"})", f.clock.Now()));
  Scheduler s(f);
  s.Start();
  CHECK(s.exec.launched.empty());
  CHECK(f.Job("extract").status == StatusCode::kPaused);
  CHECK(f.Job("extract").reason == "paused: an admin paused project p1 (audit)");
  REQUIRE(f.store->PutSetting("project/p1", R"({"paused": false})", f.clock.Now()));
  s.engine.RunOnce();
  REQUIRE(s.exec.launched.size() == 1);
  CHECK(s.exec.launched[0].first == f.ids["extract"]);
}

TEST_CASE("engine: GPU jobs' measured use of their GPUs goes into /metrics") {
  Fixture f;
  f.Submit();
  Scheduler s(f);
  auto& [engine, exec, cb] = s;
  s.Start();
  auto measured = f.Outcome(StatusCode::kSucceeded, 0);
  measured.result_json =
      R"({"status":"succeeded","wall_seconds":100,"gpus":["0","1"],)"
      R"("gpu_usage":{"source":"nvml","samples":20,"utilization_pct":50,)"
      R"("memory_peak_bytes":1073741824,"energy_joules":12000.5,"processes":1}})";
  cb.finished(f.ids["extract"], 1, measured);
  engine.RunOnce();
  REQUIRE(exec.launched.size() == 3);
  auto unmeasured = f.Outcome(StatusCode::kSucceeded, 0);
  unmeasured.result_json =
      R"({"status":"succeeded","wall_seconds":5,"gpus":["0"],)"
      R"("gpu_usage":{"source":"unavailable: libnvidia-ml.so.1 cannot be loaded"}})";
  cb.finished(f.ids["model"], 1, unmeasured);
  engine.RunOnce();
  const std::string text = engine.Stats().ToPrometheus();
  CHECK(text.find("sluss_gpu_jobs_measured_total{source=\"nvml\"} 1\n") != std::string::npos);
  CHECK(text.find("sluss_gpu_jobs_measured_total{source=\"unavailable\"} 1\n") !=
        std::string::npos);
  // 50% of 2 GPUs for 100 s.
  CHECK(text.find("sluss_gpu_busy_seconds_total 100.000\n") != std::string::npos);
  CHECK(text.find("sluss_gpu_energy_joules_total 12000.500\n") != std::string::npos);
}

TEST_CASE("engine: a result moves the DAG on, a failure fails the dependents") {
  Fixture f;
  f.Submit();
  Scheduler s(f);
  auto& [engine, exec, cb] = s;
  s.Start();
  cb.finished(f.ids["extract"], 1, f.Outcome(StatusCode::kSucceeded, 0));
  engine.RunOnce();
  CHECK(f.Job("extract").status == StatusCode::kSucceeded);
  CHECK(f.Job("extract").result_json == R"({"status":"x"})");
  CHECK(f.Job("extract").exit_code == 0);
  CHECK(exec.launched.size() == 3);

  Fixture g;
  g.Submit();
  Scheduler s2(g);
  auto& [engine2, exec2, cb2] = s2;
  s2.Start();
  cb2.finished(g.ids["extract"], 1, g.Outcome(StatusCode::kNonzeroExit, 3));
  engine2.RunOnce();
  CHECK(g.Job("extract").status == StatusCode::kNonzeroExit);
  CHECK(g.Job("model").status == StatusCode::kDependencyFailed);
  CHECK(g.Job("table1").reason == "dependency_failed: extract nonzero_exit");
}

TEST_CASE("engine: a listed failure is retried as a new attempt after a backoff") {
  Fixture f;
  f.Submit(/*retries=*/2);
  Scheduler s(f);
  auto& [engine, exec, cb] = s;
  s.Start();
  cb.finished(f.ids["extract"], 1, f.Outcome(StatusCode::kNonzeroExit, 1));
  engine.RunOnce();
  core::Job j = f.Job("extract");
  CHECK(j.attempt == 2);
  CHECK(j.state() == core::JobState::kPending);
  REQUIRE(j.eligible_at);
  CHECK(*j.eligible_at == f.clock.Now() + 10s);
  CHECK(exec.launched.size() == 1);  // not yet
  f.clock.Advance(11s);
  engine.RunOnce();
  REQUIRE(exec.launched.size() == 2);
  CHECK(exec.launched[1] == std::pair{f.ids["extract"], 2});
  // A stale report of attempt 1 changes nothing.
  cb.finished(f.ids["extract"], 1, f.Outcome(StatusCode::kSucceeded, 0));
  engine.RunOnce();
  CHECK(f.Job("extract").status == StatusCode::kExecuting);
  // The second failure waits 20 s; the third attempt is the last.
  cb.finished(f.ids["extract"], 2, f.Outcome(StatusCode::kNonzeroExit, 1));
  engine.RunOnce();
  CHECK(*f.Job("extract").eligible_at == f.clock.Now() + 20s);
  auto events = f.store->ListJobEvents(f.ids["extract"]);
  REQUIRE(events);
  CHECK(std::any_of(events->begin(), events->end(), [](const core::JobEvent& e) {
    return e.reason == "retry 2 of 2 after nonzero_exit" && e.attempt == 3;
  }));
  CHECK(events->back().reason.starts_with("waiting_on_resources: retry backoff until "));
}

TEST_CASE("engine: a job cancelled in the store is cancelled in the executor, its result is kept") {
  Fixture f;
  f.Submit();
  Scheduler s(f);
  auto& [engine, exec, cb] = s;
  s.Start();
  REQUIRE(f.store->TransitionJob(f.ids["extract"], StatusCode::kExecuting,
                                 StatusCode::kCancelledByUser, "cancelled by alice", f.clock.Now()));
  engine.RunOnce();
  REQUIRE(exec.cancelled.size() == 1);
  CHECK(exec.cancelled[0] == std::pair{f.ids["extract"], 1});
  engine.RunOnce();
  CHECK(exec.cancelled.size() == 1);  // once
  cb.finished(f.ids["extract"], 1, f.Outcome(StatusCode::kCancelledByUser, 143));
  engine.RunOnce();
  CHECK(f.Job("extract").status == StatusCode::kCancelledByUser);
  CHECK(f.Job("extract").result_json == R"({"status":"x"})");
  CHECK(f.Job("model").status == StatusCode::kDependencyFailed);
}

TEST_CASE("engine: after a restart it re-attaches, and launches what was never launched") {
  Fixture f;
  f.Submit();
  Scheduler(f).Start();
  // As if slussd died between persisting `preparing` and launching.
  REQUIRE(f.store->TransitionJob(f.ids["extract"], StatusCode::kExecuting, StatusCode::kCancelledByUser,
                                 "x", f.clock.Now()));
  REQUIRE(f.store->TransitionJob(f.ids["extract"], StatusCode::kCancelledByUser,
                                 StatusCode::kWaitingOnResources, "retry", f.clock.Now()));
  REQUIRE(f.store->TransitionJob(f.ids["extract"], StatusCode::kWaitingOnResources,
                                 StatusCode::kPreparing, "starting on n1", f.clock.Now(),
                                 core::JobUpdate{.node = "n1"}));
  Scheduler s(f);
  auto& exec = s.exec;
  exec.never_launched = {{f.ids["extract"], 2}};
  s.engine.Start(exec);
  REQUIRE(exec.reattached.size() == 1);
  CHECK(exec.reattached[0].job == f.ids["extract"]);
  REQUIRE(exec.launched.size() == 1);
  CHECK(exec.launched[0] == std::pair{f.ids["extract"], 2});
  CHECK(f.Job("extract").status == StatusCode::kExecuting);
}

TEST_CASE("engine: GPU-hours are charged by reservation and settled to what was used") {
  Fixture f;
  f.options.nodes[0].gpus = {0, 1};
  core::Quota q;
  q.budget = core::Quota::Budget{3, "month"};
  REQUIRE(f.store->UpdateQuota("p1", q));
  core::NewRun run;
  run.project = "p1";
  run.commit = std::string(40, 'b');
  const std::string gpu_job = R"({"image":"host","resources":{"gpus":1,"time_limit_s":7200}})";
  run.jobs = {{"a", StatusCode::kWaitingOnResources, "", gpu_job, "ka", {}},
              {"b", StatusCode::kWaitingOnResources, "", gpu_job, "kb", {}}};
  auto created = f.store->CreateRun(run, f.clock.Now());
  REQUIRE(created);
  auto jobs = f.store->ListJobs(created->id);
  Scheduler s(f);
  auto& [engine, exec, cb] = s;
  s.Start();
  // Each reserves 2 h of a 3 h budget: only one starts.
  REQUIRE(exec.launched.size() == 1);
  JobId first = exec.launched[0].first, second = first == (*jobs)[0].id ? (*jobs)[1].id : (*jobs)[0].id;
  CHECK(f.store->GetJob(second)->reason ==
        "waiting_on_quota: GPU-hour budget 3.0 h per month, 2.0 h used, job needs 2.0 h");
  // It used 30 minutes: the reservation gives way to 0.5 h, and the other fits.
  f.clock.Advance(30min);
  auto o = f.Outcome(StatusCode::kSucceeded, 0);
  o.started_at = f.clock.Now() - 30min;
  cb.finished(first, 1, o);
  engine.RunOnce();
  CHECK(exec.launched.size() == 2);
  CHECK(*f.store->GetSetting("gpu_hours/p1") ==
        R"({"hours":0.5,"period":")" + scheduler::BudgetPeriodKey("month", f.clock.Now()) + R"("})");
}

TEST_CASE("engine: budget periods") {
  auto t = *core::ParseRfc3339("2026-11-28T16:00:00Z");  // a Saturday
  CHECK(scheduler::BudgetPeriodKey("month", t) == "2026-11");
  CHECK(scheduler::BudgetPeriodKey("day", t) == "2026-11-28");
  CHECK(scheduler::BudgetPeriodKey("week", t) == "week of 2026-11-23");
}

TEST_CASE("engine: fair-share usage survives a restart") {
  Fixture f;
  f.Submit();
  {
    Scheduler s(f);
    auto& [engine, exec, cb] = s;
    s.Start();
    f.clock.Advance(1h);
    auto o = f.Outcome(StatusCode::kSucceeded, 0);
    o.started_at = f.clock.Now() - 1h;
    cb.finished(f.ids["extract"], 1, o);
    engine.RunOnce();
  }
  auto v = f.store->GetSetting("fairshare");
  REQUIRE(v);
  CHECK(v->find("\"p1\"") != std::string::npos);
  CHECK(v->find("\"usage\":1.0") != std::string::npos);
}

}  // namespace
}  // namespace sluss

namespace sluss {
namespace {

TEST_CASE("engine: a start carries the declared resources, the rest from the defaults") {
  Fixture f;
  f.options.defaults = {.milli_cpus = 1000, .memory_bytes = 2LL << 30, .time_limit = 3600s,
                        .disk_bytes = 64LL << 20};
  f.Submit(0, R"({"name":"extract","image":"host","resources":{"milli_cpus":250,)"
              R"("memory_bytes":268435456,"time_limit_s":30,"disk_bytes":104857600}})");
  Scheduler s(f);
  s.Start();
  REQUIRE(f.preparer.starts.contains("extract"));
  const core::Resources& r = f.preparer.starts["extract"].resources;
  CHECK(r.milli_cpus == 250);
  CHECK(r.memory_bytes == 256LL << 20);
  CHECK(r.time_limit == 30s);
  CHECK(r.disk_bytes == 100LL << 20);
  // model declared only 1 CPU: the defaults, and the project's max_time.
  core::Quota q;
  q.per_job.max_time = 600s;
  REQUIRE(f.store->UpdateQuota("p1", q));
  s.cb.finished(f.ids["extract"], 1, f.Outcome(StatusCode::kSucceeded, 0));
  s.engine.RunOnce();
  REQUIRE(f.preparer.starts.contains("model"));
  const core::Resources& m = f.preparer.starts["model"].resources;
  CHECK(m.memory_bytes == 2LL << 30);
  CHECK(m.disk_bytes == 64LL << 20);
  CHECK(m.time_limit == 600s);
}

TEST_CASE("engine: a job the engine stops past its time limit ends timed_out, not cancelled") {
  Fixture f;
  f.options.overrun_grace = 60s;
  f.Submit(0, R"({"name":"extract","image":"host","resources":{"time_limit_s":5}})");
  Scheduler s(f);
  s.Start();
  f.clock.Advance(30s);
  s.engine.RunOnce();
  CHECK(s.exec.cancelled.empty());  // within limit + grace: the sandbox's to stop
  f.clock.Advance(40s);
  s.engine.RunOnce();
  REQUIRE(s.exec.cancelled.size() == 1);
  // The executor reports the stop as a cancel.
  core::JobOutcome o = f.Outcome(StatusCode::kCancelledByUser, 137);
  o.started_at = f.clock.Now() - 70s;
  o.message = "the job was cancelled";
  s.cb.finished(f.ids["extract"], 1, o);
  s.engine.RunOnce();
  CHECK(f.Job("extract").status == StatusCode::kTimedOut);
  CHECK(f.Job("extract").reason.starts_with("timed_out: the job ran past its time limit of 5s"));
}

TEST_CASE("engine: a stop nobody asked for through sluss is node_lost, never cancelled_by_user") {
  Fixture f;
  f.Submit();
  Scheduler s(f);
  s.Start();
  core::JobOutcome o = f.Outcome(StatusCode::kCancelledByUser, 143);
  o.message = "the job was cancelled";
  s.cb.finished(f.ids["extract"], 1, o);
  s.engine.RunOnce();
  CHECK(f.Job("extract").status == StatusCode::kNodeLost);
  CHECK(f.Job("extract").reason.find("did not come from sluss") != std::string::npos);
}

TEST_CASE("engine: a stored spec that does not load fails the job, it never runs on defaults") {
  Fixture f;
  f.Submit(0, R"({"name":"extract","resources":{"memory_bytes":"lots"}})");
  std::vector<std::string> logged;
  f.options.log_error = [&](const std::string& m) { logged.push_back(m); };
  Scheduler s(f);
  s.Start();
  CHECK(s.exec.launched.empty());
  CHECK(f.Job("extract").status == StatusCode::kInternalError);
  CHECK(f.Job("extract").reason.find("resources.memory_bytes") != std::string::npos);
  REQUIRE_FALSE(logged.empty());
  CHECK(logged[0].find("job " + std::to_string(f.ids["extract"].value)) != std::string::npos);
  s.engine.RunOnce();
  CHECK(f.Job("model").status == StatusCode::kDependencyFailed);
}

}  // namespace
}  // namespace sluss

namespace sluss {
namespace {

TEST_CASE("engine: a job end whose recording fails is logged and recorded at the next cycle") {
  Fixture f;
  f.Submit();
  std::vector<std::string> logged;
  f.options.log_error = [&](const std::string& m) { logged.push_back(m); };
  Scheduler s(f);
  s.Start();
  REQUIRE(f.Job("extract").status == StatusCode::kExecuting);
  // The store refuses the write, as a full disk would.
  REQUIRE(testing::RunSql(f.dir / "sluss.db",
                          "CREATE TRIGGER fail_end BEFORE UPDATE OF status ON jobs "
                          "WHEN NEW.status = 'succeeded' BEGIN SELECT RAISE(ABORT, 'disk full'); END;")
              .exit_code == 0);
  s.cb.finished(f.ids["extract"], 1, f.Outcome(StatusCode::kSucceeded, 0));
  s.engine.RunOnce();
  CHECK(f.Job("extract").status == StatusCode::kExecuting);
  REQUIRE_FALSE(logged.empty());
  CHECK(logged.back().find("disk full") != std::string::npos);
  CHECK(logged.back().find("will retry") != std::string::npos);
  // The store takes writes again: the end is recorded, not lost.
  REQUIRE(testing::RunSql(f.dir / "sluss.db", "DROP TRIGGER fail_end;").exit_code == 0);
  s.engine.RunOnce();
  CHECK(f.Job("extract").status == StatusCode::kSucceeded);
  CHECK(f.Job("extract").result_json == R"({"status":"x"})");
  CHECK(f.Job("model").state() != core::JobState::kFailed);
}

}  // namespace
}  // namespace sluss

namespace sluss {
namespace {

TEST_CASE("engine: a running job keeps the limits it was placed with when the quota is lowered") {
  Fixture f;
  core::Quota q;
  q.per_job.max_time = 600s;
  f.Submit();
  REQUIRE(f.store->UpdateQuota("p1", q));
  Scheduler s(f);
  s.Start();
  REQUIRE(f.Job("extract").placed);
  CHECK(f.Job("extract").placed->time_limit == 600s);
  q.per_job.max_time = 30s;
  REQUIRE(f.store->UpdateQuota("p1", q));
  f.clock.Advance(120s);  // past the lowered limit and the grace
  s.engine.RunOnce();
  CHECK(s.exec.cancelled.empty());
  CHECK(f.Job("extract").placed->time_limit == 600s);
  f.clock.Advance(600s);  // past its own limit and the grace
  s.engine.RunOnce();
  CHECK(s.exec.cancelled.size() == 1);
}

}  // namespace
}  // namespace sluss

namespace sluss {
namespace {

TEST_CASE("engine: a job whose supervisor does not answer the stop is killed, and ends timed_out") {
  Fixture f;
  f.options.overrun_grace = 60s;
  f.Submit(0, R"({"name":"extract","image":"host","resources":{"time_limit_s":5}})");
  Scheduler s(f);
  s.Start();
  f.clock.Advance(70s);
  s.engine.RunOnce();
  REQUIRE(s.exec.modes.size() == 1);
  CHECK(s.exec.modes[0] == core::Executor::CancelMode::kNow);
  f.clock.Advance(30s);  // still no end: within the second grace
  s.engine.RunOnce();
  CHECK(s.exec.modes.size() == 1);
  f.clock.Advance(40s);  // the supervisor hangs (frozen): it is killed
  s.engine.RunOnce();
  REQUIRE(s.exec.modes.size() == 2);
  CHECK(s.exec.modes[1] == core::Executor::CancelMode::kSupervisor);
  s.engine.RunOnce();
  CHECK(s.exec.modes.size() == 2);  // once
  // The executor finds it lost and reports so.
  core::JobOutcome o = f.Outcome(StatusCode::kNodeLost, 0);
  o.exit_code.reset();
  o.message = "the job's supervisor stopped without a result";
  s.cb.finished(f.ids["extract"], 1, o);
  s.engine.RunOnce();
  CHECK(f.Job("extract").status == StatusCode::kTimedOut);
}

TEST_CASE(
    "engine: the result of a job cancelled while it ran is stored even when the first write "
    "fails") {
  Fixture f;
  f.Submit();
  std::vector<std::string> logged;
  f.options.log_error = [&](const std::string& m) { logged.push_back(m); };
  Scheduler s(f);
  s.Start();
  REQUIRE(f.store->TransitionJob(f.ids["extract"], StatusCode::kExecuting,
                                 StatusCode::kCancelledByUser, "cancelled by alice",
                                 f.clock.Now()));
  s.engine.RunOnce();
  // The store refuses the result once, as a full disk would.
  REQUIRE(testing::RunSql(f.dir / "sluss.db",
                          "CREATE TRIGGER fail_result BEFORE UPDATE OF result ON jobs "
                          "BEGIN SELECT RAISE(ABORT, 'disk full'); END;")
              .exit_code == 0);
  s.cb.finished(f.ids["extract"], 1, f.Outcome(StatusCode::kCancelledByUser, 143));
  s.engine.RunOnce();
  CHECK(f.Job("extract").result_json.empty());
  REQUIRE_FALSE(logged.empty());
  CHECK(logged.back().find("will retry") != std::string::npos);
  REQUIRE(testing::RunSql(f.dir / "sluss.db", "DROP TRIGGER fail_result;").exit_code == 0);
  s.engine.RunOnce();
  CHECK(f.Job("extract").status == StatusCode::kCancelledByUser);
  CHECK(f.Job("extract").result_json == R"({"status":"x"})");
}

TEST_CASE(
    "engine: under the disk reserve no job starts, saying why, logged once, with room, they "
    "start") {
  Fixture f;
  f.Submit();
  std::string disk = "waiting_on_disk: 12M free on /var/lib/sluss, 1G reserved";
  f.options.disk_check = [&] { return disk; };
  std::vector<std::string> logged, info;
  f.options.log_error = [&](const std::string& m) { logged.push_back(m); };
  f.options.log_info = [&](const std::string& m) { info.push_back(m); };
  Scheduler s(f);
  s.Start();
  s.engine.RunOnce();
  CHECK(s.exec.launched.empty());
  CHECK(f.Job("extract").status == StatusCode::kWaitingOnResources);
  CHECK(f.Job("extract").reason == disk);
  CHECK(std::count_if(logged.begin(), logged.end(), [](const std::string& m) {
          return m.find("waiting_on_disk") != std::string::npos;
        }) == 1);
  disk.clear();
  s.engine.RunOnce();
  REQUIRE(s.exec.launched.size() == 1);
  // The end of the episode is news, not an error.
  REQUIRE(info.size() == 1);
  CHECK(info.back() == "disk space is back above the reserve; jobs start again");
  CHECK(std::none_of(logged.begin(), logged.end(), [](const std::string& m) {
    return m.find("back above the reserve") != std::string::npos;
  }));
}

TEST_CASE("engine: job rows name their GPUs as the node does, and a restart reads them back") {
  Fixture f;
  f.options.nodes[0].gpus = {0, 1};
  f.options.nodes[0].gpu_names = {"GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c", "0:1"};
  core::NewRun run;
  run.project = "p1";
  run.commit = std::string(40, 'c');
  const std::string gpu_job = R"({"image":"host","resources":{"gpus":1}})";
  run.jobs = {{"a", StatusCode::kWaitingOnResources, "", gpu_job, "ka", {}}};
  REQUIRE(f.store->CreateRun(run, f.clock.Now()));
  {
    Scheduler s(f);
    s.Start();
    REQUIRE(s.exec.launched.size() == 1);
    const auto job = f.store->GetJob(s.exec.launched[0].first);
    CHECK(job->gpus == std::vector<std::string>{"GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c"});
    CHECK(f.preparer.starts["a"].gpus == std::vector<int>{0});
  }
  // After a restart the running job still holds GPU slot 0: a second GPU
  // job gets the other one, by its name.
  run.commit = std::string(40, 'd');
  run.jobs = {{"b", StatusCode::kWaitingOnResources, "", gpu_job, "kb", {}}};
  auto second = f.store->CreateRun(run, f.clock.Now());
  REQUIRE(second);
  Scheduler s(f);
  s.Start();
  REQUIRE(s.exec.launched.size() == 1);
  CHECK(f.store->GetJob(s.exec.launched[0].first)->gpus == std::vector<std::string>{"0:1"});
  CHECK(f.preparer.starts["b"].gpus == std::vector<int>{1});
}

}  // namespace
}  // namespace sluss
