// The permit kill switch behind its seams: a real SQLite store and a manual
// clock. A job stops when its permit is revoked or expires, and not before.

#include "scheduler/permit_watch.h"

#include <catch2/catch.hpp>

#include "core/permit.h"
#include "store/store.h"
#include "tests/support/manual_clock.h"
#include "tests/support/temp_dir.h"

namespace sluss {
namespace {

using core::StatusCode;
using namespace std::chrono_literals;

struct Fixture {
  testing::TempDir dir;
  std::unique_ptr<store::SqliteStore> store;
  testing::ManualClock clock;
  core::JobId job;

  Fixture() {
    store = std::move(*store::SqliteStore::Open(dir / "sluss.db"));
    core::Project p;
    p.name = "p1";
    p.created_at = clock.Now();
    REQUIRE(store->CreateProject(p));
    core::Permit permit;
    permit.id = "P-1";
    permit.project = "p1";
    permit.datasets = {{"cohort", ""}};
    permit.persons = {"alice"};
    permit.purpose = "a study";
    permit.valid_from = clock.Now() - 24h;
    permit.valid_until = clock.Now() + 1h;
    permit.granted_by = "steward";
    REQUIRE(store->CreatePermit(permit, clock.Now()));
    core::NewRun run;
    run.project = "p1";
    run.commit = std::string(40, 'a');
    run.submitted_by = "alice";
    run.jobs = {{"extract", StatusCode::kWaitingOnResources, "",
                 R"({"image":"host","datasets":[{"name":"cohort","version":"v1"}]})", "k1", {}}};
    auto created = store->CreateRun(run, clock.Now());
    REQUIRE(created);
    job = (*store->ListJobs(created->id))[0].id;
  }
  StatusCode Status() { return store->GetJob(job)->status; }
};

TEST_CASE("scheduler: permit watch leaves a covered job alone, and checks again only on a change") {
  Fixture f;
  scheduler::PermitWatch watch(*f.store, f.clock);
  CHECK(watch.Sweep() == 0);
  f.clock.Advance(30min);
  CHECK(watch.Sweep() == 0);
  CHECK(f.Status() == StatusCode::kWaitingOnResources);
}

TEST_CASE("scheduler: permit watch stops a job when its permit expires") {
  Fixture f;
  scheduler::PermitWatch watch(*f.store, f.clock);
  CHECK(watch.Sweep() == 0);
  f.clock.Advance(59min);
  CHECK(watch.Sweep() == 0);
  // The expiry passes between two sweeps, with no permit changed.
  f.clock.Advance(2min);
  CHECK(watch.Sweep() == 1);
  auto j = f.store->GetJob(f.job);
  CHECK(j->status == StatusCode::kPermitRevoked);
  CHECK_THAT(j->reason, Catch::Contains("expired"));
}

TEST_CASE("scheduler: permit watch stops a job when its permit is revoked") {
  Fixture f;
  scheduler::PermitWatch watch(*f.store, f.clock);
  CHECK(watch.Sweep() == 0);
  REQUIRE(f.store->RevokePermit("P-1", "steward", "consent withdrawn", f.clock.Now()));
  CHECK(watch.Sweep() == 1);
  auto j = f.store->GetJob(f.job);
  CHECK(j->status == StatusCode::kPermitRevoked);
  CHECK_THAT(j->reason, Catch::Contains("consent withdrawn"));
  CHECK(watch.Sweep() == 0);  // nothing left to stop
}

TEST_CASE("scheduler: permit watch's first sweep checks every job, as after a restart") {
  Fixture f;
  f.clock.Advance(2h);  // expired while no watch was running
  scheduler::PermitWatch watch(*f.store, f.clock);
  CHECK(watch.Sweep() == 1);
  CHECK(f.Status() == StatusCode::kPermitRevoked);
}

}  // namespace
}  // namespace sluss
