// The audit log, dataset versions and permits in SqliteStore, against a real
// SQLite file, tampered with through the sqlite3 shell as an attacker with
// file access would.

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

// A project, a two-job run, and the jobs through to the end: about a dozen
// audit records.
void MakeHistory(core::Store& s, testing::ManualClock& clock) {
  REQUIRE(s.CreateProject({"p1", "", "", {}, {}, clock.Now()}));
  core::NewRun r;
  r.project = "p1";
  r.commit = std::string(40, 'a');
  r.submitted_by = "alice@example.org";
  r.jobs = {{"extract", StatusCode::kWaitingOnResources, "", "{}", "k1", {}},
            {"model", StatusCode::kWaitingOnDependencies, "", "{}", "k2", {"extract"}}};
  auto run = s.CreateRun(r, clock.Now());
  REQUIRE(run);
  auto jobs = s.ListJobs(run->id);
  REQUIRE(jobs);
  for (const auto& j : *jobs) {
    StatusCode from = j.status;
    for (StatusCode to : {StatusCode::kPreparing, StatusCode::kExecuting, StatusCode::kSucceeded}) {
      clock.Advance(1s);
      REQUIRE(s.TransitionJob(j.id, from, to, "", clock.Now()));
      from = to;
    }
  }
}

core::AuditVerifyReport Verify(core::Store& s, const core::Ed25519KeyPair* key) {
  core::AuditVerifier v;
  auto records = s.ListAudit(0, 100000);
  REQUIRE(records);
  for (const auto& r : *records) v.Add(r);
  auto cps = s.ListAuditCheckpoints();
  REQUIRE(cps);
  return v.Finish(*cps, key ? key->public_pem : "");
}

void Checkpoint(core::Store& s, const core::Ed25519KeyPair& key, testing::ManualClock& clock) {
  auto n = s.AuditSize();
  REQUIRE(n);
  auto leaves = s.AuditLeaves(*n);
  REQUIRE(leaves);
  core::AuditCheckpoint c;
  c.tree_size = *n;
  c.root = core::ToHex(core::MerkleRoot(*leaves));
  c.time = clock.Now();
  c.key_id = core::KeyId(key.public_pem);
  c.signature = *core::Ed25519Sign(key.private_pem, core::CheckpointMessage(c));
  REQUIRE(s.AddAuditCheckpoint(c));
}

constexpr const char* kDropTriggers =
    "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; "
    "DROP TRIGGER audit_payloads_no_update;";

}  // namespace

TEST_CASE("every run and job status change is in the audit log, chained and verifiable") {
  testing::TempDir dir;
  testing::ManualClock clock;
  auto s = OpenOrDie(dir / "state.db");
  MakeHistory(*s, clock);
  auto records = s->ListAudit(0, 1000);
  REQUIRE(records);
  REQUIRE(records->size() == 7);  // run.created + 6 transitions
  CHECK((*records)[0].action == "run.created");
  CHECK((*records)[0].actor == "alice@example.org");
  CHECK((*records)[1].action == "job.status");
  CHECK_THAT(*(*records)[1].payload, Catch::Contains(R"("to":"preparing")"));
  auto key = *core::GenerateEd25519();
  Checkpoint(*s, key, clock);
  auto report = Verify(*s, &key);
  CHECK(report.ok);
  CHECK(report.records == 7);
  CHECK(report.checkpoints == 1);
  CHECK(report.unsigned_records == 0);
}

TEST_CASE("the audit tables refuse UPDATE and DELETE") {
  testing::TempDir dir;
  testing::ManualClock clock;
  const std::string db = dir / "state.db";
  {
    auto s = OpenOrDie(db);
    MakeHistory(*s, clock);
  }
  for (const char* sql : {"UPDATE audit SET actor = 'x' WHERE seq = 2",
                          "DELETE FROM audit WHERE seq = 2",
                          "UPDATE audit_payloads SET payload = '{}' WHERE seq = 2",
                          "DELETE FROM audit_checkpoints"}) {
    INFO(sql);
    auto r = testing::RunSql(db, sql);
    if (std::string(sql).find("checkpoints") == std::string::npos) {
      CHECK(r.exit_code != 0);
      CHECK_THAT(r.output, Catch::Contains("append-only"));
    }
  }
  auto s = OpenOrDie(db);
  CHECK(Verify(*s, nullptr).ok);
}

TEST_CASE("tampering with the database file is found and the record named") {
  testing::TempDir dir;
  testing::ManualClock clock;
  const std::string db = dir / "state.db";
  auto key = *core::GenerateEd25519();
  {
    auto s = OpenOrDie(db);
    MakeHistory(*s, clock);
    Checkpoint(*s, key, clock);
  }
  std::string sql;
  std::int64_t bad = 0;
  SECTION("an edited record") {
    sql = "UPDATE audit SET actor = 'mallory' WHERE seq = 4";
    bad = 4;
  }
  SECTION("an edited payload") {
    sql = "UPDATE audit_payloads SET payload = '{\"to\":\"failed\"}' WHERE seq = 5";
    bad = 5;
  }
  SECTION("a deleted record") {
    sql = "DELETE FROM audit_payloads WHERE seq = 3; DELETE FROM audit WHERE seq = 3";
    bad = 3;
  }
  SECTION("two records swapped") {
    sql = "UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; "
          "UPDATE audit SET seq = 4 WHERE seq = -1;";
    bad = 3;
  }
  auto r = testing::RunSql(db, std::string(kDropTriggers) + sql);
  REQUIRE(r.exit_code == 0);
  auto ro = store::SqliteStore::OpenReadOnly(db);
  REQUIRE(ro);
  auto report = Verify(**ro, &key);
  CHECK_FALSE(report.ok);
  CHECK(report.bad_seq == bad);
  CHECK_THAT(report.problem, Catch::Contains("record " + std::to_string(bad)));
}

TEST_CASE("payloads past retention are deleted and the log still verifies") {
  testing::TempDir dir;
  testing::ManualClock clock;
  auto s = OpenOrDie(dir / "state.db");
  MakeHistory(*s, clock);
  auto key = *core::GenerateEd25519();
  Checkpoint(*s, key, clock);
  auto purged = s->PurgeAuditPayloads(clock.Now() - 3s);
  REQUIRE(purged);
  CHECK(*purged > 0);
  auto report = Verify(*s, &key);
  CHECK(report.ok);
  CHECK(report.purged_payloads == *purged);
}

TEST_CASE("dataset versions are immutable and their changes audited") {
  testing::TempDir dir;
  testing::ManualClock clock;
  auto s = OpenOrDie(dir / "state.db");
  core::DatasetVersion d;
  d.name = "prescriptions";
  d.version = "2026-06";
  d.path = "/srv/data/rx";
  d.registered_by = "steward@agency";
  d.registered_at = clock.Now();
  REQUIRE(s->CreateDataset(d, clock.Now()));
  CHECK(s->CreateDataset(d, clock.Now()).error().code == core::ErrorCode::kAlreadyExists);
  d.state = core::DatasetVersion::State::kReady;
  d.id = "sha256:abc";
  d.files = 3;
  REQUIRE(s->UpdateDataset(d, "slussd", clock.Now()));
  auto got = s->GetDataset("prescriptions", "2026-06");
  REQUIRE(got);
  CHECK(got->id == "sha256:abc");
  CHECK(got->state == core::DatasetVersion::State::kReady);
  CHECK(s->GetDataset("prescriptions", "2026-07").error().code == core::ErrorCode::kNotFound);
  auto records = s->ListAudit(0, 10);
  REQUIRE(records->size() == 2);
  CHECK((*records)[0].action == "dataset.registered");
  CHECK((*records)[1].action == "dataset.ready");
}

TEST_CASE("permits: granted once per id, revoked once, audited") {
  testing::TempDir dir;
  testing::ManualClock clock;
  auto s = OpenOrDie(dir / "state.db");
  REQUIRE(s->CreateProject({"p1", "", "", {}, {}, clock.Now()}));
  core::Permit p;
  p.id = "P-7";
  p.project = "p1";
  p.datasets = {{"prescriptions", ""}};
  p.persons = {"alice@example.org"};
  p.purpose = "study";
  p.valid_from = clock.Now();
  p.valid_until = clock.Now() + 24h;
  p.granted_by = "steward@agency";
  REQUIRE(s->CreatePermit(p, clock.Now()));
  CHECK(s->CreatePermit(p, clock.Now()).error().code == core::ErrorCode::kAlreadyExists);
  auto other = p;
  other.id = "P-8";
  other.project = "nope";
  CHECK(s->CreatePermit(other, clock.Now()).error().code == core::ErrorCode::kNotFound);
  auto got = s->GetPermit("P-7");
  REQUIRE(got);
  CHECK(got->datasets == p.datasets);
  CHECK(got->granted_by == "steward@agency");
  CHECK(got->ValidAt(clock.Now()));
  clock.Advance(1h);
  auto revoked = s->RevokePermit("P-7", "steward@agency", "breach", clock.Now());
  REQUIRE(revoked);
  CHECK_FALSE(revoked->ValidAt(clock.Now()));
  CHECK(s->RevokePermit("P-7", "x", "", clock.Now()).error().code ==
        core::ErrorCode::kFailedPrecondition);
  CHECK(s->ListPermits("p1")->size() == 1);
  CHECK(s->ListPermits("")->size() == 1);
  auto records = s->ListAudit(0, 10);
  REQUIRE(records->size() == 2);
  CHECK((*records)[0].action == "permit.granted");
  CHECK((*records)[1].action == "permit.revoked");
}
