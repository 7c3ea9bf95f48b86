// The engine's view of the queue, kept in memory between cycles and brought
// up to date from the jobs whose status changed (Store::ListJobChanges):
// whatever changes the store between two cycles, by whichever connection,
// the next cycle acts on it as if it had read the whole queue.

#include <algorithm>
#include <map>

#include <catch2/catch.hpp>

#include "scheduler/engine.h"
#include "store/store.h"
#include "tests/support/manual_clock.h"
#include "tests/support/temp_dir.h"

namespace sluss {
namespace {

using core::JobId;
using core::StatusCode;

class Preparer final : public core::LaunchPreparer {
 public:
  core::Result<core::LaunchRequest> Prepare(const core::Job& job, const core::Run&,
                                            const core::Placement& start) override {
    // The view keeps no spec: a start must still get the stored one.
    specs[job.action] = job.spec_json;
    starts[job.action] = start;
    core::LaunchRequest r;
    r.job = job.id;
    r.attempt = job.attempt;
    r.node = start.node;
    r.resources = start.resources;
    return r;
  }
  std::map<std::string, std::string> specs;
  std::map<std::string, core::Placement> starts;
};

class Executor final : public core::Executor {
 public:
  core::Result<void> Launch(const core::LaunchRequest& r) override {
    launched.push_back(r.job);
    return {};
  }
  core::Result<void> Cancel(JobId job, int, CancelMode) override {
    cancelled.push_back(job);
    return {};
  }
  std::vector<core::RunningAttempt> Reattach(const std::vector<core::RunningAttempt>&) override {
    return {};
  }
  std::vector<std::string> LogFiles(JobId, int, const std::string&,
                                    const std::string&) const override {
    return {};
  }
  std::vector<JobId> launched;
  std::vector<JobId> cancelled;
};

constexpr const char* kSpec = R"({"image":"host","resources":{"milli_cpus":1000}})";

struct Fixture {
  testing::TempDir dir;
  std::unique_ptr<store::SqliteStore> store;
  testing::ManualClock clock;
  Preparer preparer;
  Executor exec;
  std::unique_ptr<scheduler::Engine> engine;
  std::map<std::string, JobId> ids;

  // A node with room for `slots` jobs of one CPU; `depth` and `full_every`:
  // EngineOptions' queue_depth and full_plan_every.
  explicit Fixture(int slots, int depth = 1000,
                   std::chrono::milliseconds full_every = std::chrono::seconds(1)) {
    store = std::move(*store::SqliteStore::Open(dir / "sluss.db"));
    core::Project p;
    p.name = "p1";
    p.created_at = clock.Now();
    REQUIRE(store->CreateProject(p));
    scheduler::EngineOptions options;
    scheduler::NodeState node;
    node.name = "n1";
    node.capacity.milli_cpus = 1000 * slots;
    node.capacity.memory_bytes = std::int64_t{64} << 30;
    options.nodes = {node};
    options.run_loop = false;
    options.queue_depth = depth;
    options.full_plan_every = full_every;
    engine = std::make_unique<scheduler::Engine>(*store, clock, preparer, options);
  }
  // A run of `actions`, each needing the one before it when `chain`.
  void Submit(const std::vector<std::string>& actions, bool chain = false,
              StatusCode first = StatusCode::kWaitingOnResources) {
    core::NewRun run;
    run.project = "p1";
    run.submitted_by = "alice";
    for (std::size_t i = 0; i < actions.size(); ++i) {
      std::vector<std::string> needs;
      if (chain && i > 0) needs.push_back(actions[i - 1]);
      run.jobs.push_back({actions[i], chain && i > 0 ? StatusCode::kWaitingOnDependencies : first,
                          "", kSpec, "k" + actions[i], needs});
    }
    auto created = store->CreateRun(run, clock.Now());
    REQUIRE(created);
    auto jobs = store->ListJobs(created->id);
    REQUIRE(jobs);
    for (const auto& j : *jobs) ids[j.action] = j.id;
  }
  core::Job Job(const std::string& action) { return *store->GetJob(ids.at(action)); }
  void End(const std::string& action, StatusCode status) {
    core::JobOutcome o;
    o.status = status;
    o.exit_code = status == StatusCode::kSucceeded ? 0 : 1;
    o.started_at = clock.Now();
    o.ended_at = clock.Now();
    engine->ExecutorCallbacks().finished(ids.at(action), Job(action).attempt, o);
  }
  bool Launched(const std::string& action) {
    return std::find(exec.launched.begin(), exec.launched.end(), ids.at(action)) !=
           exec.launched.end();
  }
};

TEST_CASE("store: a listing of changes has the jobs whose status changed since its cursor, and no other") {
  Fixture f(1);
  f.Submit({"a", "b", "c"}, /*chain=*/true);
  auto all = f.store->ListActiveJobs();
  REQUIRE(all);
  CHECK(all->jobs.size() == 3);
  auto none = f.store->ListJobChanges(all->cursor);
  REQUIRE(none);
  CHECK(none->jobs.empty());
  CHECK(none->cursor == all->cursor);

  REQUIRE(f.store->TransitionJob(f.ids["a"], StatusCode::kWaitingOnResources, StatusCode::kPreparing,
                                 "starting", f.clock.Now()));
  auto one = f.store->ListJobChanges(all->cursor);
  REQUIRE(one);
  REQUIRE(one->jobs.size() == 1);
  CHECK(one->jobs[0].id == f.ids["a"]);
  CHECK(one->jobs[0].status == StatusCode::kPreparing);
  CHECK(one->jobs[0].spec_json == kSpec);
  CHECK(one->cursor > all->cursor);

  // A job that ended is listed too (the caller drops it), with its needs'
  // status for a changed job that needs something.
  REQUIRE(f.store->TransitionJob(f.ids["a"], StatusCode::kPreparing, StatusCode::kCancelledByUser,
                                 "cancelled", f.clock.Now()));
  REQUIRE(f.store->TransitionJob(f.ids["b"], StatusCode::kWaitingOnDependencies, StatusCode::kHeld,
                                 "held", f.clock.Now()));
  auto two = f.store->ListJobChanges(one->cursor);
  REQUIRE(two);
  REQUIRE(two->jobs.size() == 2);
  CHECK(two->jobs[0].status == StatusCode::kCancelledByUser);
  CHECK(two->jobs[1].needs == std::vector<JobId>{f.ids["a"]});
  CHECK(two->needs.at(f.ids["a"]).status == StatusCode::kCancelledByUser);
}

TEST_CASE("engine: what changes in the store between two cycles is acted on at the next") {
  Fixture f(1);
  f.Submit({"a", "b", "c"});
  f.engine->Start(f.exec);
  f.engine->RunOnce();  // reads the whole queue once
  REQUIRE(f.Launched("a"));
  CHECK(f.preparer.specs["a"] == kSpec);
  CHECK(f.Job("b").reason.starts_with("waiting_on_resources"));

  SECTION("a job held through the API does not start; the next in line does") {
    REQUIRE(f.store->TransitionJob(f.ids["b"], f.Job("b").status, StatusCode::kHeld, "held by alice",
                                   f.clock.Now()));
    f.End("a", StatusCode::kSucceeded);
    f.engine->RunOnce();
    CHECK_FALSE(f.Launched("b"));
    CHECK(f.Launched("c"));
    CHECK(f.Job("b").status == StatusCode::kHeld);
  }
  SECTION("a run created after the first cycle is planned with the rest") {
    f.Submit({"d", "e"}, /*chain=*/true);
    f.engine->RunOnce();
    CHECK(f.Job("d").reason.starts_with("waiting_on_resources"));
    CHECK(f.Job("e").reason == "waiting_on_dependencies (d)");
    f.End("a", StatusCode::kSucceeded);
    f.engine->RunOnce();
    CHECK(f.Launched("b"));
  }
  SECTION("a running job cancelled through the API is stopped, and its slot given to the next") {
    REQUIRE(f.store->TransitionJob(f.ids["a"], StatusCode::kExecuting, StatusCode::kCancelledByUser,
                                   "cancelled by alice", f.clock.Now()));
    f.engine->RunOnce();
    CHECK(f.exec.cancelled == std::vector<JobId>{f.ids["a"]});
    CHECK(f.Launched("b"));
  }
  SECTION("a waiting job cancelled in the store is never started") {
    REQUIRE(f.store->TransitionJob(f.ids["b"], f.Job("b").status, StatusCode::kCancelledByUser,
                                   "cancelled by alice", f.clock.Now()));
    f.End("a", StatusCode::kSucceeded);
    f.engine->RunOnce();
    CHECK_FALSE(f.Launched("b"));
    CHECK(f.Launched("c"));
  }
}

TEST_CASE("engine: a change written by another connection is seen by the next cycle") {
  // The API has its own connection to the database.
  Fixture f(1);
  f.Submit({"a", "b"});
  f.engine->Start(f.exec);
  f.engine->RunOnce();
  auto other = store::SqliteStore::Open(f.dir / "sluss.db");
  REQUIRE(other);
  REQUIRE((*other)->TransitionJob(f.ids["b"], f.Job("b").status, StatusCode::kHeld, "held",
                                  f.clock.Now()));
  f.End("a", StatusCode::kSucceeded);
  f.engine->RunOnce();
  CHECK_FALSE(f.Launched("b"));
  REQUIRE((*other)->TransitionJob(f.ids["b"], StatusCode::kHeld, StatusCode::kWaitingOnResources,
                                  "released", f.clock.Now()));
  f.engine->RunOnce();
  CHECK(f.Launched("b"));
}

TEST_CASE("engine: a chain moves on through the view: each end starts the next, a failure fails the rest") {
  Fixture f(4);
  f.Submit({"a", "b", "c", "d"}, /*chain=*/true);
  f.engine->Start(f.exec);
  f.engine->RunOnce();
  CHECK(f.exec.launched == std::vector<JobId>{f.ids["a"]});
  f.End("a", StatusCode::kSucceeded);
  f.engine->RunOnce();
  CHECK(f.Launched("b"));
  f.End("b", StatusCode::kNonzeroExit);
  f.engine->RunOnce();
  CHECK(f.Job("c").status == StatusCode::kDependencyFailed);
  f.engine->RunOnce();
  CHECK(f.Job("d").status == StatusCode::kDependencyFailed);
  CHECK(f.exec.launched.size() == 2);
  f.engine->RunOnce();
  CHECK(f.engine->Stats().pending_jobs == 0);
}

TEST_CASE("engine: a deep queue drains, every job started once") {
  Fixture f(8);
  std::vector<std::string> actions;
  for (int i = 0; i < 2000; ++i) actions.push_back("j" + std::to_string(i));
  f.Submit(actions);
  f.engine->Start(f.exec);
  std::size_t ended = 0;
  for (int cycle = 0; cycle < 1000 && f.exec.launched.size() < actions.size(); ++cycle) {
    f.engine->RunOnce();
    for (; ended < f.exec.launched.size(); ++ended) {
      const std::size_t i = ended;
      core::JobOutcome o;
      o.status = StatusCode::kSucceeded;
      o.exit_code = 0;
      f.engine->ExecutorCallbacks().finished(f.exec.launched[i], 1, o);
    }
  }
  f.engine->RunOnce();
  std::vector<JobId> launched = f.exec.launched;
  std::sort(launched.begin(), launched.end());
  CHECK(std::adjacent_find(launched.begin(), launched.end()) == launched.end());
  CHECK(launched.size() == actions.size());
  for (const auto& a : {"j0", "j999", "j1999"}) CHECK(f.Job(a).status == StatusCode::kSucceeded);
  CHECK(f.engine->Stats().pending_jobs == 0);
}

}  // namespace
}  // namespace sluss

namespace sluss {
namespace {

TEST_CASE("engine: pausing and resuming a deep queue writes no job's reason, event or audit record") {
  Fixture f(1);
  std::vector<std::string> actions;
  for (int i = 0; i < 500; ++i) actions.push_back("j" + std::to_string(i));
  f.Submit(actions);
  f.engine->Start(f.exec);
  f.engine->RunOnce();
  f.engine->RunOnce();
  REQUIRE(f.exec.launched.size() == 1);
  const std::int64_t cursor = f.store->ListActiveJobs()->cursor;
  const std::int64_t audit = *f.store->AuditSize();

  // The pause is one setting (the API audits its request once).
  REQUIRE(f.store->PutSetting("queue", R"({"paused":true,"reason":"upgrade","by":"admin"})",
                              f.clock.Now()));
  f.engine->RunOnce();
  f.engine->RunOnce();
  CHECK(f.store->ListJobChanges(cursor)->jobs.empty());
  CHECK(*f.store->AuditSize() == audit);

  // What runs goes on and ends; nothing starts.
  f.End("j0", StatusCode::kSucceeded);
  f.engine->RunOnce();
  CHECK(f.exec.launched.size() == 1);
  CHECK(f.store->ListJobChanges(cursor)->jobs.size() == 1);

  REQUIRE(f.store->PutSetting("queue", R"({"paused":false})", f.clock.Now()));
  f.engine->RunOnce();
  CHECK(f.exec.launched.size() == 2);
  // The job that ended, the one that started, and the next in line (which
  // now holds the backfill reservation); no other.
  CHECK(f.store->ListJobChanges(cursor)->jobs.size() == 3);
  CHECK(f.Job("j2").reason.find("reserved on n1") != std::string::npos);
  CHECK(f.Job("j2").reason.starts_with("waiting_on_resources"));
}

}  // namespace
}  // namespace sluss

namespace sluss {
namespace {

TEST_CASE("engine: a quota changed between cycles applies to the waiting jobs that declared no time") {
  Fixture f(1);
  f.Submit({"a", "b"});
  f.engine->Start(f.exec);
  f.engine->RunOnce();
  REQUIRE(f.Launched("a"));
  CHECK(f.preparer.starts["a"].resources.time_limit == std::chrono::hours(1));  // the default
  core::Quota q;
  q.per_job.max_time = std::chrono::minutes(30);
  REQUIRE(f.store->UpdateQuota("p1", q));
  f.End("a", StatusCode::kSucceeded);
  f.engine->RunOnce();
  REQUIRE(f.Launched("b"));
  CHECK(f.preparer.starts["b"].resources.time_limit == std::chrono::minutes(30));
}

}  // namespace
}  // namespace sluss

namespace sluss {
namespace {

TEST_CASE("engine: a bounded cycle plans the first in line, a full one the rest a bounded time later") {
  Fixture f(1, /*depth=*/2, std::chrono::seconds(10));
  f.Submit({"a", "b", "c", "d", "e", "f"});
  f.engine->Start(f.exec);
  f.engine->RunOnce();  // the first cycle is full
  REQUIRE(f.Launched("a"));
  CHECK(f.engine->Stats().full_cycles == 1);
  REQUIRE(f.store->PutSetting("project/p1", R"({"paused":true,"reason":"audit"})", f.clock.Now()));

  // Events alone: only the first two in line learn of the pause.
  f.End("a", StatusCode::kSucceeded);
  f.engine->RunOnce();
  CHECK(f.engine->Stats().full_cycles == 1);
  CHECK_FALSE(f.Launched("b"));
  for (const auto& a : {"b", "c"}) CHECK(f.Job(a).status == StatusCode::kPaused);
  for (const auto& a : {"d", "e", "f"})
    CHECK(f.Job(a).reason.starts_with("waiting_on_resources"));

  // The full cycle, once its interval has passed, makes every reason true.
  f.clock.Advance(std::chrono::seconds(10));
  f.engine->RunOnce();
  CHECK(f.engine->Stats().full_cycles == 2);
  for (const auto& a : {"b", "c", "d", "e", "f"}) {
    CHECK(f.Job(a).status == StatusCode::kPaused);
    CHECK(f.Job(a).reason == "paused: an admin paused project p1 (audit)");
  }
  CHECK(f.engine->Stats().pending_jobs == 5);
}

TEST_CASE("engine: bounded cycles drain a deep queue oldest first, every job started once") {
  Fixture f(2, /*depth=*/3, std::chrono::hours(1));
  std::vector<std::string> actions;
  for (int i = 0; i < 60; ++i) actions.push_back("j" + std::to_string(i));
  f.Submit(actions);
  f.engine->Start(f.exec);
  std::size_t ended = 0;
  for (int cycle = 0; cycle < 200 && f.exec.launched.size() < actions.size(); ++cycle) {
    f.engine->RunOnce();
    for (; ended < f.exec.launched.size(); ++ended) {
      core::JobOutcome o;
      o.status = StatusCode::kSucceeded;
      o.exit_code = 0;
      f.engine->ExecutorCallbacks().finished(f.exec.launched[ended], 1, o);
    }
  }
  f.engine->RunOnce();
  CHECK(f.engine->Stats().full_cycles == 1);
  std::vector<JobId> in_order;
  for (const auto& a : actions) in_order.push_back(f.ids.at(a));
  CHECK(f.exec.launched == in_order);
  CHECK(f.engine->Stats().pending_jobs == 0);
}

}  // namespace
}  // namespace sluss
