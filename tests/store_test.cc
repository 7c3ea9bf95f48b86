// SqliteStore against a real SQLite file.

#include <algorithm>
#include <chrono>
#include <map>

#include <catch2/catch.hpp>

#include "store/store.h"
#include "tests/support/manual_clock.h"
#include "tests/support/sqlite_cli.h"
#include "tests/support/temp_dir.h"

using namespace sluss;
using core::StatusCode;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<store::SqliteStore> OpenOrDie(const std::string& path) {
  auto s = store::SqliteStore::Open(path);
  if (!s) FAIL(s.error().ToString());
  return std::move(*s);
}

core::NewRun ThreeJobRun() {
  core::NewRun r;
  r.project = "p1";
  r.commit = std::string(40, 'a');
  r.ref = "refs/heads/main";
  r.trigger = "push";
  r.submitted_by = "alice@example.org";
  r.jobs = {
      {"table1", StatusCode::kWaitingOnDependencies, "waiting_on_dependencies (train)", "{}", "k3", {"train"}},
      {"extract", StatusCode::kWaitingOnResources, "", "{}", "k1", {}},
      {"train", StatusCode::kWaitingOnDependencies, "waiting_on_dependencies (extract)", "{}", "k2", {"extract"}},
  };
  return r;
}

}  // namespace

TEST_CASE("a new database is created at the latest schema and reopened") {
  testing::TempDir dir;
  testing::ManualClock clock;
  {
    auto s = OpenOrDie(dir / "state.db");
    REQUIRE(s->CreateProject({"p1", "a study", "", {}, {}, clock.Now()}));
  }
  auto s = OpenOrDie(dir / "state.db");
  auto p = s->GetProject("p1");
  REQUIRE(p);
  CHECK(p->description == "a study");
  CHECK(p->created_at == clock.Now());
  CHECK(s->CheckIntegrity());
}

TEST_CASE("projects: duplicates and bad names are refused") {
  testing::TempDir dir;
  auto s = OpenOrDie(dir / "state.db");
  core::Project p{"p1", "", "", {}, {}, {}};
  REQUIRE(s->CreateProject(p));
  auto again = s->CreateProject(p);
  REQUIRE(!again);
  CHECK(again.error().code == core::ErrorCode::kAlreadyExists);
  auto bad = s->CreateProject({"P 1", "", "", {}, {}, {}});
  REQUIRE(!bad);
  CHECK(bad.error().code == core::ErrorCode::kInvalidArgument);
  CHECK(s->GetProject("nope").error().code == core::ErrorCode::kNotFound);
  core::Project q{"q2", "", "", {"main"}, {}, {}};
  q.quota.max.gpus = 4;
  q.quota.fairshare_weight = 2;
  REQUIRE(s->CreateProject(q));
  auto all = s->ListProjects();
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK((*all)[1].quota == q.quota);
  CHECK((*all)[1].branches == std::vector<std::string>{"main"});
}

TEST_CASE("a run is stored with its jobs, their needs and first events") {
  testing::TempDir dir;
  testing::ManualClock clock;
  auto s = OpenOrDie(dir / "state.db");
  REQUIRE(s->CreateProject({"p1", "", "", {}, {}, clock.Now()}));
  auto run = s->CreateRun(ThreeJobRun(), clock.Now());
  REQUIRE(run);
  CHECK(run->state == core::RunState::kPending);
  CHECK(run->submitted_by == "alice@example.org");
  auto jobs = s->ListJobs(run->id);
  REQUIRE(jobs);
  REQUIRE(jobs->size() == 3);
  std::map<std::string, core::Job> by;
  for (auto& j : *jobs) by[j.action] = j;
  CHECK(by["train"].needs == std::vector<core::JobId>{by["extract"].id});
  CHECK(by["table1"].needs == std::vector<core::JobId>{by["train"].id});
  CHECK(by["extract"].needs.empty());
  // One job read alone has the same needs (the engine starts jobs so).
  CHECK(s->GetJob(by["train"].id)->needs == std::vector<core::JobId>{by["extract"].id});
  CHECK(s->GetJob(by["table1"].id)->needs == std::vector<core::JobId>{by["train"].id});
  CHECK(s->GetJob(by["extract"].id)->needs.empty());
  CHECK(by["table1"].reason == "waiting_on_dependencies (train)");
  auto events = s->ListJobEvents(by["extract"].id);
  REQUIRE(events);
  REQUIRE(events->size() == 1);
  CHECK(!(*events)[0].from);
  CHECK((*events)[0].to == StatusCode::kWaitingOnResources);
}

TEST_CASE("a run that names an unknown project or a missing need writes nothing") {
  testing::TempDir dir;
  testing::ManualClock clock;
  auto s = OpenOrDie(dir / "state.db");
  auto r = s->CreateRun(ThreeJobRun(), clock.Now());
  REQUIRE(!r);
  CHECK(r.error().code == core::ErrorCode::kNotFound);
  REQUIRE(s->CreateProject({"p1", "", "", {}, {}, clock.Now()}));
  auto bad = ThreeJobRun();
  bad.jobs[0].needs = {"nope"};
  auto r2 = s->CreateRun(bad, clock.Now());
  REQUIRE(!r2);
  CHECK(r2.error().message == "job 'table1' needs 'nope', which is not in the run");
  auto started = ThreeJobRun();
  started.jobs[1].status = StatusCode::kExecuting;
  CHECK(!s->CreateRun(started, clock.Now()));
  CHECK(s->ListRuns({})->empty());
}

TEST_CASE("an invalid pipeline is stored as a failed run with its errors") {
  testing::TempDir dir;
  testing::ManualClock clock;
  auto s = OpenOrDie(dir / "state.db");
  REQUIRE(s->CreateProject({"p1", "", "", {}, {}, clock.Now()}));
  core::NewRun r;
  r.project = "p1";
  r.errors = {"sluss.yaml:3:5: actions.a: missing 'run'"};
  auto run = s->CreateRun(r, clock.Now());
  REQUIRE(run);
  CHECK(run->state == core::RunState::kFailed);
  CHECK(s->GetRun(run->id)->errors == r.errors);
}

TEST_CASE("transitions follow the state machine and are all recorded") {
  testing::TempDir dir;
  testing::ManualClock clock;
  auto s = OpenOrDie(dir / "state.db");
  REQUIRE(s->CreateProject({"p1", "", "", {}, {}, clock.Now()}));
  auto run = s->CreateRun(ThreeJobRun(), clock.Now());
  REQUIRE(run);
  core::JobId extract;
  auto jobs = s->ListJobs(run->id);
  REQUIRE(jobs);
  for (auto& j : *jobs) {
    if (j.action == "extract") extract = j.id;
  }
  clock.Advance(1s);
  auto j = s->TransitionJob(extract, StatusCode::kWaitingOnResources,
                            StatusCode::kPreparing, "", clock.Now());
  REQUIRE(j);
  CHECK(j->started_at == clock.Now());
  CHECK(s->GetRun(run->id)->state == core::RunState::kRunning);

  SECTION("an illegal move is refused and leaves no trace") {
    auto bad = s->TransitionJob(extract, StatusCode::kPreparing,
                                StatusCode::kSucceeded, "", clock.Now());
    REQUIRE(!bad);
    CHECK(bad.error().code == core::ErrorCode::kFailedPrecondition);
    CHECK(s->GetJob(extract)->status == StatusCode::kPreparing);
    CHECK(s->ListJobEvents(extract)->size() == 2);
  }
  SECTION("a stale expectation is a conflict") {
    auto stale = s->TransitionJob(extract, StatusCode::kWaitingOnResources,
                                  StatusCode::kPreparing, "", clock.Now());
    REQUIRE(!stale);
    CHECK(stale.error().code == core::ErrorCode::kConflict);
  }
  SECTION("a failure, then a retry that starts attempt 2") {
    REQUIRE(s->TransitionJob(extract, StatusCode::kPreparing, StatusCode::kExecuting, "", clock.Now()));
    clock.Advance(5s);
    auto failed = s->TransitionJob(extract, StatusCode::kExecuting,
                                   StatusCode::kNonzeroExit, "exit 3", clock.Now());
    REQUIRE(failed);
    CHECK(failed->ended_at == clock.Now());
    CHECK(s->GetRun(run->id)->state == core::RunState::kRunning);  // others pending
    auto retried = s->TransitionJob(extract, StatusCode::kNonzeroExit,
                                    StatusCode::kWaitingOnResources, "retry", clock.Now());
    REQUIRE(retried);
    CHECK(retried->attempt == 2);
    CHECK(!retried->ended_at);
    auto events = s->ListJobEvents(extract);
    REQUIRE(events->size() == 5);
    CHECK(events->back().attempt == 2);
    CHECK(events->back().from == StatusCode::kNonzeroExit);
  }
}

TEST_CASE("an executing job's reason follows its executor, without an event, never after its end") {
  testing::TempDir dir;
  testing::ManualClock clock;
  auto s = OpenOrDie(dir / "state.db");
  REQUIRE(s->CreateProject({"p1", "", "", {}, {}, clock.Now()}));
  auto run = s->CreateRun(ThreeJobRun(), clock.Now());
  REQUIRE(run);
  core::JobId extract;
  auto jobs = s->ListJobs(run->id);
  REQUIRE(jobs);
  for (auto& j : *jobs)
    if (j.action == "extract") extract = j.id;
  REQUIRE(s->TransitionJob(extract, StatusCode::kWaitingOnResources, StatusCode::kPreparing, "",
                           clock.Now()));
  core::JobUpdate news;
  news.reason = "waiting in Slurm: Resources (partition debug)";
  // Before the launch is recorded: refused, so that the executor says it again.
  auto early = s->UpdateJob(extract, 1, news);
  REQUIRE(!early);
  CHECK(early.error().code == core::ErrorCode::kFailedPrecondition);
  REQUIRE(s->TransitionJob(extract, StatusCode::kPreparing, StatusCode::kExecuting, "running",
                           clock.Now()));
  const auto events = s->ListJobEvents(extract)->size();
  REQUIRE(s->UpdateJob(extract, 1, news));
  CHECK(s->GetJob(extract)->reason == "waiting in Slurm: Resources (partition debug)");
  CHECK(s->GetJob(extract)->status == StatusCode::kExecuting);
  CHECK(s->ListJobEvents(extract)->size() == events);
  news.reason = "running in Slurm job 12 on node3";
  REQUIRE(s->UpdateJob(extract, 1, news));
  CHECK(s->GetJob(extract)->reason == "running in Slurm job 12 on node3");
  CHECK(!s->UpdateJob(extract, 2, news));  // another attempt's news
  REQUIRE(s->TransitionJob(extract, StatusCode::kExecuting, StatusCode::kNonzeroExit, "exit 3",
                           clock.Now()));
  news.reason = "late";
  CHECK(!s->UpdateJob(extract, 1, news));
  CHECK(s->GetJob(extract)->reason == "exit 3");
}

TEST_CASE("job_events is append-only") {
  testing::TempDir dir;
  testing::ManualClock clock;
  {
    auto s = OpenOrDie(dir / "state.db");
    REQUIRE(s->CreateProject({"p1", "", "", {}, {}, clock.Now()}));
    REQUIRE(s->CreateRun(ThreeJobRun(), clock.Now()));
  }
  auto update = testing::RunSql(dir / "state.db", "UPDATE job_events SET reason = 'x'");
  CHECK(update.exit_code != 0);
  CHECK(update.output.find("job_events is append-only") != std::string::npos);
  CHECK(testing::RunSql(dir / "state.db", "DELETE FROM job_events").exit_code != 0);
  CHECK(testing::RunSql(dir / "state.db", "SELECT count(*) FROM job_events").output == "3\n");
}

TEST_CASE("a database newer than this binary is refused, not touched") {
  testing::TempDir dir;
  { OpenOrDie(dir / "state.db"); }
  REQUIRE(testing::RunSql(dir / "state.db", "PRAGMA user_version = 99").exit_code == 0);
  auto s = store::SqliteStore::Open(dir / "state.db");
  REQUIRE(!s);
  CHECK(s.error().code == core::ErrorCode::kFailedPrecondition);
  CHECK(s.error().message ==
        "the database has schema version 99, newer than this slussd knows (" +
            std::to_string(store::SqliteStore::LatestSchemaVersion()) +
            "); run the newer slussd, or restore the backup made before the upgrade");
}

TEST_CASE("another program's SQLite file is refused") {
  testing::TempDir dir;
  REQUIRE(testing::RunSql(dir / "other.db", "CREATE TABLE t(x)").exit_code == 0);
  auto s = store::SqliteStore::Open(dir / "other.db");
  REQUIRE(!s);
  CHECK(s.error().message ==
        "the database holds tables but no sluss schema version; it is not a sluss database");
}

TEST_CASE("runs list newest first, by project and state, with a cursor") {
  testing::TempDir dir;
  testing::ManualClock clock;
  auto s = OpenOrDie(dir / "state.db");
  REQUIRE(s->CreateProject({"p1", "", "", {}, {}, clock.Now()}));
  REQUIRE(s->CreateProject({"p2", "", "", {}, {}, clock.Now()}));
  for (int i = 0; i < 5; ++i) {
    auto r = ThreeJobRun();
    r.project = i % 2 ? "p2" : "p1";
    REQUIRE(s->CreateRun(r, clock.Now()));
  }
  auto p1 = s->ListRuns({.project = "p1", .limit = 2});
  REQUIRE(p1->size() == 2);
  CHECK((*p1)[0].id.value == 5);
  CHECK((*p1)[1].id.value == 3);
  auto next = s->ListRuns({.project = "p1", .before = (*p1)[1].id, .limit = 2});
  REQUIRE(next->size() == 1);
  CHECK((*next)[0].id.value == 1);
  CHECK(s->ListRuns({.state = core::RunState::kFailed})->empty());
}

TEST_CASE("a run of 1,000 jobs is stored in one transaction") {
  testing::TempDir dir;
  testing::ManualClock clock;
  auto s = OpenOrDie(dir / "state.db");
  REQUIRE(s->CreateProject({"p1", "", "", {}, {}, clock.Now()}));
  core::NewRun r;
  r.project = "p1";
  for (int i = 0; i < 1000; ++i) {
    core::NewJob j{"a" + std::to_string(i), StatusCode::kWaitingOnResources, "", "{}", "", {}};
    if (i > 0) j.needs = {"a" + std::to_string(i - 1)};
    r.jobs.push_back(j);
  }
  // Make the last job's insert fail from inside SQLite: if the run were
  // written in several transactions, the first 999 jobs would remain.
  REQUIRE(testing::RunSql(dir / "state.db",
                          "CREATE TRIGGER fail_last BEFORE INSERT ON jobs WHEN "
                          "NEW.action = 'a999' BEGIN SELECT RAISE(ABORT, 'injected'); END")
              .exit_code == 0);
  {
    auto s2 = OpenOrDie(dir / "state.db");
    CHECK(!s2->CreateRun(r, clock.Now()));
    CHECK(s2->ListRuns({})->empty());
  }
  CHECK(testing::RunSql(dir / "state.db", "SELECT count(*) FROM jobs").output == "0\n");
  REQUIRE(testing::RunSql(dir / "state.db", "DROP TRIGGER fail_last").exit_code == 0);
  auto s3 = OpenOrDie(dir / "state.db");
  auto run = s3->CreateRun(r, clock.Now());
  REQUIRE(run);
  auto jobs = s3->ListJobs(run->id);
  REQUIRE(jobs->size() == 1000);
  CHECK(jobs->back().needs.size() == 1);
}

TEST_CASE("writes by another connection are seen, and writes after them succeed") {
  // Regression: a cached statement left mid-result kept a read transaction,
  // so the store saw an old snapshot and its next write failed as busy.
  testing::TempDir dir;
  testing::ManualClock clock;
  auto s = OpenOrDie(dir / "state.db");
  REQUIRE(s->CreateProject({"p1", "", "", {}, {}, clock.Now()}));
  REQUIRE(s->GetProject("p1"));  // steps a statement once
  REQUIRE(testing::RunSql(dir / "state.db",
                          "INSERT INTO projects(name, created_at) VALUES ('p2', 0)")
              .exit_code == 0);
  CHECK(s->GetProject("p2").has_value());
  core::Quota q;
  q.max.gpus = 2;
  auto updated = s->UpdateQuota("p1", q);
  REQUIRE(updated);
  CHECK(updated->quota.max.gpus == 2);
}

TEST_CASE("accounting: jobs that ended in a period, by user and outcome, with what they used") {
  testing::TempDir dir;
  testing::ManualClock clock;
  auto s = OpenOrDie(dir / "state.db");
  REQUIRE(s->CreateProject({"p1", "", "", {}, {}, clock.Now()}));
  auto run = s->CreateRun(ThreeJobRun(), clock.Now());
  REQUIRE(run);
  std::map<std::string, core::JobId> ids;
  auto listed = s->ListJobs(run->id);
  REQUIRE(listed);
  for (auto& j : *listed) ids[j.action] = j.id;
  const core::TimePoint t0 = clock.Now();
  auto finish = [&](const std::string& action, StatusCode from, StatusCode to, std::string result) {
    REQUIRE(s->TransitionJob(ids[action], from, StatusCode::kPreparing, "", clock.Now()));
    REQUIRE(s->TransitionJob(ids[action], StatusCode::kPreparing, StatusCode::kExecuting, "", clock.Now()));
    clock.Advance(1h);
    core::JobUpdate u;
    u.result_json = std::move(result);
    REQUIRE(s->TransitionJob(ids[action], StatusCode::kExecuting, to, "", clock.Now(), u));
  };
  // 2 h of CPU on 2 GPUs for 1 h; then a failure with no result recorded.
  finish("extract", StatusCode::kWaitingOnResources, StatusCode::kSucceeded,
         R"({"status": "succeeded", "cpu_seconds": 7200, "wall_seconds": 3600, "gpus": ["0", "1"]})");
  finish("train", StatusCode::kWaitingOnDependencies, StatusCode::kNonzeroExit, "");
  auto rows = s->AccountJobs("p1", t0, clock.Now() + 1s);
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].user == "alice@example.org");
  CHECK((*rows)[0].status == StatusCode::kNonzeroExit);
  CHECK((*rows)[0].jobs == 1);
  CHECK((*rows)[0].cpu_hours == 0);
  CHECK((*rows)[1].status == StatusCode::kSucceeded);
  CHECK((*rows)[1].cpu_hours == Approx(2.0));
  CHECK((*rows)[1].gpu_hours == Approx(2.0));
  CHECK((*rows)[1].wall_hours == Approx(1.0));
  // A period that ends before the second job ended has only the first.
  CHECK(s->AccountJobs("p1", t0, clock.Now() - 30min)->size() == 1);
  CHECK(s->AccountJobs("p2", t0, clock.Now() + 1s)->empty());
}

TEST_CASE("schemas 8 and 10: what ended jobs used and kept is carried over from their stored results") {
  testing::TempDir dir;
  testing::ManualClock clock;
  const core::TimePoint t0 = clock.Now();
  {
    auto s = OpenOrDie(dir / "state.db");
    REQUIRE(s->CreateProject({"p1", "", "", {}, {}, clock.Now()}));
    auto run = s->CreateRun(ThreeJobRun(), clock.Now());
    REQUIRE(run);
    auto jobs = s->ListJobs(run->id);
    REQUIRE(jobs);
    auto it = std::find_if(jobs->begin(), jobs->end(), [](const auto& j) { return j.action == "extract"; });
    REQUIRE(it != jobs->end());
    core::JobId extract = it->id;
    REQUIRE(s->TransitionJob(extract, it->status, StatusCode::kPreparing, "", clock.Now()));
    REQUIRE(s->TransitionJob(extract, StatusCode::kPreparing, StatusCode::kExecuting, "", clock.Now()));
    clock.Advance(1h);
    REQUIRE(s->TransitionJob(extract, StatusCode::kExecuting, StatusCode::kSucceeded, "", clock.Now()));
  }
  // The database as schema 7 left it: a result in JSON, no used_* (nor
  // placed_*) columns.
  REQUIRE(testing::RunSql(dir / "state.db",
                          "UPDATE jobs SET result = '{\"status\":\"succeeded\",\"cpu_seconds\":"
                          "7200,\"wall_seconds\":3600,\"gpus\":[\"0\"],\"outputs\":["
                          "{\"path\":\"output/a\",\"size\":5,\"sha256\":\"x\"},"
                          "{\"path\":\"output/b\",\"size\":7,\"sha256\":\"y\"}]}' "
                          "WHERE action = 'extract';"
                          "ALTER TABLE jobs DROP COLUMN used_cpu_seconds;"
                          "ALTER TABLE jobs DROP COLUMN used_wall_seconds;"
                          "ALTER TABLE jobs DROP COLUMN used_gpus;"
                          "ALTER TABLE jobs DROP COLUMN placed_milli_cpus;"
                          "ALTER TABLE jobs DROP COLUMN placed_memory_bytes;"
                          "ALTER TABLE jobs DROP COLUMN placed_time_s;"
                          "ALTER TABLE jobs DROP COLUMN placed_disk_bytes;"
                          "ALTER TABLE jobs DROP COLUMN output_bytes;"
                          "ALTER TABLE jobs DROP COLUMN workspace_bytes;"
                          "PRAGMA user_version = 7;")
              .exit_code == 0);
  auto s = OpenOrDie(dir / "state.db");
  auto rows = s->AccountJobs("p1", t0, clock.Now() + 1s);
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].cpu_hours == Approx(2.0));
  CHECK((*rows)[0].gpu_hours == Approx(1.0));
  CHECK((*rows)[0].wall_hours == Approx(1.0));
  // Schema 10: the outputs a result lists count as the project's disk.
  auto disk = s->DiskByProject();
  REQUIRE(disk);
  CHECK(disk->at("p1").outputs_bytes == 12);
  CHECK(disk->at("p1").workspaces_bytes == 0);
}

TEST_CASE("a commit's running jobs share its workspace: its bytes count once as the project's disk") {
  testing::TempDir dir;
  testing::ManualClock clock;
  auto s = OpenOrDie(dir / "state.db");
  REQUIRE(s->CreateProject({"p1", "", "", {}, {}, clock.Now()}));
  core::NewRun a = ThreeJobRun();
  for (auto& j : a.jobs) {
    j.status = StatusCode::kWaitingOnResources;
    j.needs.clear();
  }
  core::NewRun b = a;
  b.commit = std::string(40, 'b');
  auto run_a = s->CreateRun(a, clock.Now());
  auto run_b = s->CreateRun(b, clock.Now());
  REQUIRE(run_a);
  REQUIRE(run_b);
  auto start = [&](const core::Job& j, std::int64_t bytes) {
    core::JobUpdate u;
    u.workspace_bytes = bytes;
    REQUIRE(s->TransitionJob(j.id, j.status, StatusCode::kPreparing, "", clock.Now(), u));
  };
  auto jobs_a = *s->ListJobs(run_a->id);
  auto jobs_b = *s->ListJobs(run_b->id);
  start(jobs_a[0], 100);  // two running jobs of commit a: one workspace
  start(jobs_a[1], 100);
  start(jobs_b[0], 50);  // one of commit b
  auto disk = s->DiskByProject();
  REQUIRE(disk);
  CHECK(disk->at("p1").workspaces_bytes == 150);
  CHECK(disk->at("p1").outputs_bytes == 0);
}
