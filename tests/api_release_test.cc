// The airlock through the API (Api::Handle) with the real ReleaseDesk over a
// real SQLite store: a file's copy into the release area holds no lock, so
// other clients' changes are served while it runs; a request changed during
// the copy refuses the file and leaves no copy behind.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <future>

#include "airlock/release_desk.h"
#include "api/api.h"
#include "auth/tokens.h"
#include "core/digest.h"
#include "core/job_spec.h"
#include "store/store.h"
#include "tests/support/manual_clock.h"
#include "tests/support/temp_dir.h"

using namespace sluss;
using core::Role;
using core::StatusCode;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct ReleaseFixture {
  testing::TempDir dir;
  testing::ManualClock clock;
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<airlock::ReleaseDesk> desk;
  std::unique_ptr<api::Api> api;
  std::string alice, admin;
  core::JobId job;
  std::function<void()> while_copying;  // what the test does during the copy

  // A succeeded job of project p1 with a releasable `output/big.csv` of
  // `bytes` bytes; alice is a member named on the project's permit.
  explicit ReleaseFixture(std::int64_t bytes) {
    store = std::move(*store::SqliteStore::Open(dir / "state.db"));
    alice = auth::IssueToken(*store, clock.Now(), "alice@example.org", Role::kResearcher, "t",
                             std::nullopt)->second;
    admin = auth::IssueToken(*store, clock.Now(), "admin@example.org", Role::kAdmin, "t",
                             std::nullopt)->second;
    REQUIRE(store->CreateProject({"p1", "", "", {}, {}, clock.Now()}));
    REQUIRE(store->AddMember("p1", "alice@example.org"));
    core::Permit permit;
    permit.id = "P-1";
    permit.project = "p1";
    permit.persons = {"alice@example.org"};
    permit.datasets = {{"prescriptions", ""}};
    permit.purpose = "a study";
    permit.valid_from = clock.Now() - 24h;
    permit.valid_until = clock.Now() + 24h * 365;
    permit.granted_by = "sam@example.org";
    REQUIRE(store->CreatePermit(permit, clock.Now()));

    core::JobSpec spec;
    spec.name = "tables";
    spec.image = "python-3.11";
    spec.argv = {"python3", "make.py"};
    spec.outputs.releasable = {"output/big.csv"};
    core::NewRun run;
    run.project = "p1";
    run.commit = std::string(40, 'c');
    run.submitted_by = "alice@example.org";
    run.jobs = {{"tables", StatusCode::kWaitingOnResources, "", core::ToJson(spec).dump(), "k1", {}}};
    auto made = store->CreateRun(run, clock.Now());
    REQUIRE(made);
    job = (*store->ListJobs(made->id))[0].id;

    // The file: a table of `bytes` bytes, counts far above any threshold.
    std::filesystem::create_directories(dir.path() / "jobs" / "1" / "outputs" / "output");
    std::string table = "group,n\n";
    const std::string row = "a,100\n";
    const auto size = static_cast<std::size_t>(bytes);
    while (table.size() + 2 * row.size() <= size) table += row;
    table += std::string(size - table.size() - 5, 'b') + ",100\n";  // exactly `bytes`
    std::ofstream(dir.path() / "jobs" / "1" / "outputs" / "output" / "big.csv", std::ios::binary) << table;

    REQUIRE(store->TransitionJob(job, StatusCode::kWaitingOnResources, StatusCode::kPreparing, "", clock.Now()));
    REQUIRE(store->TransitionJob(job, StatusCode::kPreparing, StatusCode::kExecuting, "", clock.Now()));
    core::JobResult result;
    result.status = "succeeded";
    result.outputs.push_back({"output/big.csv", static_cast<std::int64_t>(table.size()), core::Sha256Hex(table)});
    core::JobUpdate done;
    done.result_json = core::ToJson(result).dump();
    REQUIRE(store->TransitionJob(job, StatusCode::kExecuting, StatusCode::kSucceeded, "", clock.Now(), done));

    std::filesystem::create_directories(dir.path() / "logs" / "1");
    std::ofstream(dir.path() / "logs" / "1" / "stdout.log") << "PATIENT-1 row 1\nlast line\n";

    airlock::ReleaseDeskOptions options;
    options.job_dir = [this](const core::Job&, int) { return (dir.path() / "jobs" / "1").string(); };
    options.release_dir = (dir.path() / "releases").string();
    options.log_files = [this](const core::Job& j, int, const std::string& stream) {
      const auto file = dir.path() / "logs" / std::to_string(j.id.value) / (stream + ".log");
      return std::filesystem::exists(file) ? std::vector<std::string>{file.string()}
                                           : std::vector<std::string>{};
    };
    options.while_copying = [this] {
      if (while_copying) while_copying();
    };
    desk = std::make_unique<airlock::ReleaseDesk>(*store, clock, options);
    api::ApiOptions api_options;
    api_options.releases = desk.get();
    api = std::make_unique<api::Api>(*store, clock, std::move(api_options));
  }

  api::HttpResponse Call(const std::string& method, const std::string& path, const std::string& tok,
                         const std::string& body = "") {
    api::HttpRequest req;
    req.method = method;
    req.path = path;
    req.headers["authorization"] = "Bearer " + tok;
    req.body = body;
    return api->Handle(req);
  }

  // Another client's call made from another thread while the copy runs;
  // its answer, or 0 when it did not come (it waited for a lock the copy
  // holds; the wait is a guard against a hung test, not a timing).
  int Meanwhile(const std::string& method, const std::string& path, const std::string& tok,
                const std::string& body = "") {
    auto answer = std::async(std::launch::async, [=, this] { return Call(method, path, tok, body).status; });
    if (answer.wait_for(120s) != std::future_status::ready) {
      answer.wait();  // it ends once the copy does; the test has failed
      return 0;
    }
    return answer.get();
  }

  // Alice's request 1.
  void Open() {
    auto r = Call("POST", "/v1/releases", alice, R"({"project":"p1"})");
    INFO(r.body);
    REQUIRE(r.status == 201);
  }

  std::vector<std::string> ReleaseArea(std::int64_t id) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir.path() / "releases" / std::to_string(id), ec))
      names.push_back(e.path().filename().string());
    return names;
  }
};

}  // namespace

TEST_CASE("release: a 64 MiB file's copy holds no lock, another client's change is served meanwhile") {
  ReleaseFixture f(64LL << 20);
  f.Open();
  int other = -1;
  bool copying_seen = false;
  f.while_copying = [&] {
    // The copy is under way: its temporary name is in the release area.
    for (const auto& n : f.ReleaseArea(1)) copying_seen = copying_seen || n.starts_with(".add-");
    other = f.Meanwhile("POST", "/v1/projects", f.admin, R"({"name":"p2"})");
  };
  auto added = f.Call("POST", "/v1/releases/1/files", f.alice, R"({"job":1,"path":"output/big.csv"})");
  INFO(added.body);
  REQUIRE(added.status == 200);
  CHECK(copying_seen);
  CHECK(other == 201);
  CHECK(f.store->GetProject("p2"));
  auto r = json::parse(added.body);
  CHECK(r["files"][0]["verdict"] == "pass");
  CHECK(r["files"][0]["size"] == (64LL << 20));
  // Only the copy under its hash remains; the change has its audit record.
  CHECK(f.ReleaseArea(1) == std::vector<std::string>{r["files"][0]["sha256"].get<std::string>()});
  auto audit = f.store->ListAudit(0, 1000);
  REQUIRE(audit);
  int added_records = 0;
  for (const auto& a : *audit) added_records += a.action == "release.file_added";
  CHECK(added_records == 1);
}

TEST_CASE("release: a request withdrawn while its file is copied refuses the file, no copy is left") {
  ReleaseFixture f(1 << 20);
  f.Open();
  int withdrawn = -1;
  f.while_copying = [&] { withdrawn = f.Meanwhile("POST", "/v1/releases/1/withdraw", f.alice); };
  auto added = f.Call("POST", "/v1/releases/1/files", f.alice, R"({"job":1,"path":"output/big.csv"})");
  INFO(added.body);
  CHECK(withdrawn == 200);
  CHECK(added.status == 409);
  CHECK(f.ReleaseArea(1).empty());
  auto r = f.store->GetRelease(1);
  REQUIRE(r);
  CHECK(r->state == "withdrawn");
  CHECK(r->files.empty());
}

TEST_CASE("release: a job's log is added only from its own project, and only once the job has ended") {
  ReleaseFixture f(1024);
  f.Open();
  // Another project's job: as if there were none.
  REQUIRE(f.store->CreateProject({"p2", "", "", {}, {}, f.clock.Now()}));
  core::NewRun other;
  other.project = "p2";
  other.commit = std::string(40, 'd');
  other.submitted_by = "bob@example.org";
  other.jobs = {{"x", StatusCode::kWaitingOnResources, "", "{}", "k9", {}}};
  auto p2 = f.store->CreateRun(other, f.clock.Now());
  REQUIRE(p2);
  const auto p2_job = (*f.store->ListJobs(p2->id))[0].id.value;
  auto r = f.Call("POST", "/v1/releases/1/files", f.alice,
                  R"({"job":)" + std::to_string(p2_job) + R"(,"log":"stdout"})");
  CHECK(r.status == 404);
  // A job still waiting (its log would grow): refused until it ends.
  core::NewRun more;
  more.project = "p1";
  more.commit = std::string(40, 'e');
  more.submitted_by = "alice@example.org";
  more.jobs = {{"y", StatusCode::kWaitingOnResources, "", "{}", "k8", {}}};
  auto waiting = f.store->CreateRun(more, f.clock.Now());
  REQUIRE(waiting);
  const auto waiting_job = (*f.store->ListJobs(waiting->id))[0].id.value;
  r = f.Call("POST", "/v1/releases/1/files", f.alice,
             R"({"job":)" + std::to_string(waiting_job) + R"(,"log":"stdout"})");
  INFO(r.body);
  CHECK(r.status == 409);
  CHECK(r.body.find("once it has ended") != std::string::npos);
  // The ended job's log: frozen under its hash; no stderr was written.
  r = f.Call("POST", "/v1/releases/1/files", f.alice, R"({"job":1,"log":"stdout"})");
  REQUIRE(r.status == 200);
  auto j = json::parse(r.body);
  CHECK(j["files"][0]["path"] == "log/job-1/stdout.log");
  CHECK(j["files"][0]["sha256"] == core::Sha256Hex("PATIENT-1 row 1\nlast line\n"));
  CHECK(f.Call("POST", "/v1/releases/1/files", f.alice, R"({"job":1,"log":"stderr"})").status == 404);
  CHECK(f.ReleaseArea(1).size() == 1);
}
