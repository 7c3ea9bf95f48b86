// The API as a function (Api::Handle) against a real SQLite store: the
// role x route table, visibility, errors, tokens, rate limits.

#include "api/api.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <set>

#include "auth/tokens.h"
#include "core/job_spec.h"
#include "core/quantity.h"
#include "store/store.h"
#include "tests/support/manual_clock.h"
#include "tests/support/sqlite_cli.h"
#include "tests/support/temp_dir.h"

using namespace sluss;
using core::Role;
using core::StatusCode;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  testing::TempDir dir;
  testing::ManualClock clock;
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<api::Api> api;
  std::map<Role, std::string> token;  // one user per role; the researcher is in p1
  std::string outsider;               // a researcher in no project
  core::Run run1, run2;
  std::vector<core::Job> jobs1, jobs2;

  explicit Fixture(api::ApiOptions options = {}) {
    if (options.nodes.empty()) {
      core::Node n;
      n.name = "node1";
      n.capacity.milli_cpus = 8000;
      n.capacity.memory_bytes = 64LL << 30;
      options.nodes.push_back(n);
    }
    store = std::move(*store::SqliteStore::Open(dir / "state.db"));
    api = std::make_unique<api::Api>(*store, clock, std::move(options));
    for (Role r : {Role::kResearcher, Role::kSteward, Role::kAdmin, Role::kChecker, Role::kAuditor,
                   Role::kHook}) {
      std::string user = r == Role::kHook ? "hook:p1" : std::string(core::Name(r)) + "@example.org";
      token[r] = auth::IssueToken(*store, clock.Now(), user, r, "test", std::nullopt)->second;
    }
    outsider = auth::IssueToken(*store, clock.Now(), "eve@example.org", Role::kResearcher,
                                    "test", std::nullopt)->second;
    for (const char* p : {"p1", "p2"}) {
      REQUIRE(store->CreateProject({p, "", "", {}, {}, clock.Now()}));
    }
    REQUIRE(store->AddMember("p1", "researcher@example.org"));
    REQUIRE(store->AddMember("p1", "checker@example.org"));
    run1 = MakeRun("p1");
    run2 = MakeRun("p2");
    jobs1 = *store->ListJobs(run1.id);
    jobs2 = *store->ListJobs(run2.id);
  }

  core::Run MakeRun(const std::string& project) {
    core::NewRun r;
    r.project = project;
    r.commit = std::string(40, 'c');
    r.submitted_by = "researcher@example.org";
    r.jobs = {{"extract", StatusCode::kWaitingOnResources, "waiting_on_resources: needs 1 GPU", "{}", "k1", {}},
              {"model", StatusCode::kWaitingOnDependencies, "waiting_on_dependencies (extract)", "{}", "k2", {"extract"}}};
    return *store->CreateRun(r, clock.Now());
  }

  api::HttpResponse Call(const std::string& method, const std::string& target,
                         const std::string& tok, const std::string& body = "") {
    api::HttpRequest req;
    req.method = method;
    REQUIRE(api::ParseTarget(target, &req.path, &req.query));
    if (!tok.empty()) req.headers["authorization"] = "Bearer " + tok;
    req.body = body;
    return api->Handle(req);
  }
  json CallJson(const std::string& method, const std::string& target, const std::string& tok,
                const std::string& body = "", int expect = 200) {
    auto r = Call(method, target, tok, body);
    INFO(method << " " << target << " -> " << r.status << " " << r.body);
    CHECK(r.status == expect);
    return json::parse(r.body, nullptr, false);
  }
};

std::string Fill(std::string pattern, const std::map<std::string, std::string>& values) {
  for (const auto& [k, v] : values) {
    auto pos = pattern.find("{" + k + "}");
    if (pos != std::string::npos) pattern.replace(pos, k.size() + 2, v);
  }
  return pattern;
}

}  // namespace

TEST_CASE("every route x every role: allowed roles pass, others get 403, nobody 401") {
  Fixture f;
  auto routes = f.api->Routes();
  REQUIRE(routes.size() >= 25);
  for (const auto& route : routes) {
    auto space = route.name.find(' ');
    std::string method = route.name.substr(0, space);
    std::string pattern = route.name.substr(space + 1);
    for (Role role : {Role::kResearcher, Role::kSteward, Role::kAdmin, Role::kChecker,
                      Role::kAuditor, Role::kHook}) {
      // A spare token of this role's user, for the revoke route.
      auto spare = auth::IssueToken(
          *f.store, f.clock.Now(),
          role == Role::kHook ? "hook:p1" : std::string(core::Name(role)) + "@example.org", role,
          "spare", std::nullopt);
      bool is_job = pattern.starts_with("/v1/jobs/");
      bool is_token = pattern.starts_with("/v1/tokens/");
      std::string id = is_token ? std::to_string(spare->first.id)
                       : is_job ? std::to_string(f.jobs1[0].id.value)
                                : std::to_string(f.run1.id.value);
      std::string target =
          Fill(pattern, {{"p", "p1"}, {"id", id}, {"user", "bob@example.org"}, {"name", "node1"}});
      std::string body = "{}";
      if (pattern == "/v1/projects" && method == "POST") {
        body = R"({"name": "new-)" + std::string(core::Name(role)) + R"("})";
      }
      auto r = f.Call(method, target, f.token[role], body);
      bool allowed = route.is_public ||
                     std::find(route.roles.begin(), route.roles.end(), role) != route.roles.end();
      INFO(route.name << " as " << core::Name(role) << " -> " << r.status << " " << r.body);
      if (allowed) {
        CHECK(r.status != 401);
        CHECK(r.status != 403);
      } else {
        CHECK(r.status == 403);
        CHECK(json::parse(r.body)["error"]["code"] == "permission_denied");
      }
    }
    // Without a token: 401, except the public routes.
    auto anon = f.Call(method, Fill(pattern, {{"p", "p1"}, {"id", "1"}, {"user", "x"}, {"name", "node1"}}), "");
    INFO(route.name << " anonymous -> " << anon.status);
    if (route.is_public) {
      CHECK(anon.status == 200);
    } else {
      CHECK(anon.status == 401);
      CHECK(anon.headers.size() == 1);
    }
  }
}

TEST_CASE("the OpenAPI document lists exactly the routes the router serves") {
  Fixture f;
  json doc = json::parse(api::OpenApiDocument());
  std::set<std::string> documented;
  for (auto& [path, ops] : doc["paths"].items()) {
    for (auto& [method, op] : ops.items()) {
      std::string m = method;
      for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(m + " " + path);
    }
  }
  auto names = f.api->RouteNames();
  std::set<std::string> served(names.begin(), names.end());
  CHECK(documented == served);
  auto r = f.Call("GET", "/v1/openapi.json", "");
  CHECK(r.status == 200);
  CHECK(json::parse(r.body)["openapi"] == "3.0.3");
}

TEST_CASE("a researcher sees only their projects, others' ids are 404 like missing ones") {
  Fixture f;
  const std::string& alice = f.token[Role::kResearcher];
  auto runs = f.CallJson("GET", "/v1/runs", alice);
  REQUIRE(runs["runs"].size() == 1);
  CHECK(runs["runs"][0]["project"] == "p1");
  CHECK(f.CallJson("GET", "/v1/projects", alice)["projects"].size() == 1);

  auto other = f.Call("GET", "/v1/runs/" + std::to_string(f.run2.id.value), alice);
  auto missing = f.Call("GET", "/v1/runs/99999", alice);
  CHECK(other.status == 404);
  CHECK(missing.status == 404);
  CHECK(json::parse(other.body)["error"]["code"] == json::parse(missing.body)["error"]["code"]);
  CHECK(f.Call("GET", "/v1/jobs/" + std::to_string(f.jobs2[0].id.value), alice).status == 404);
  CHECK(f.Call("GET", "/v1/projects/p2", alice).status == 404);
  CHECK(f.Call("GET", "/v1/projects/p2/quota", alice).status == 404);
  CHECK(f.Call("POST", "/v1/jobs/" + std::to_string(f.jobs2[0].id.value) + "/cancel", alice).status == 404);
  CHECK(f.CallJson("GET", "/v1/runs?project=p2", alice)["runs"].empty());
  // A researcher in no project sees nothing at all.
  CHECK(f.CallJson("GET", "/v1/runs", f.outsider)["runs"].empty());
  // An auditor sees everything, read-only.
  CHECK(f.CallJson("GET", "/v1/runs", f.token[Role::kAuditor])["runs"].size() == 2);
}

TEST_CASE("a run shows its jobs with state, status code and reason") {
  Fixture f;
  auto run = f.CallJson("GET", "/v1/runs/" + std::to_string(f.run1.id.value), f.token[Role::kResearcher]);
  CHECK(run["state"] == "pending");
  REQUIRE(run["jobs"].size() == 2);
  CHECK(run["jobs"][0]["state"] == "pending");
  CHECK(run["jobs"][0]["status_code"] == "waiting_on_resources");
  CHECK(run["jobs"][0]["reason"] == "waiting_on_resources: needs 1 GPU");
  CHECK(run["jobs"][1]["needs"] == json::array({f.jobs1[0].id.value}));
  CHECK(run["created_at"].get<std::string>().ends_with("Z"));
}

TEST_CASE("a large run's jobs come in pages, with counts by state and status, or only those needing attention") {
  Fixture f;
  core::NewRun r;
  r.project = "p1";
  r.commit = std::string(40, 'c');
  r.submitted_by = "researcher@example.org";
  r.jobs.push_back({"first", StatusCode::kWaitingOnResources, "waiting_on_resources: queued", "{}", "k", {}});
  for (int i = 0; i < 2500; ++i)
    r.jobs.push_back({"a" + std::to_string(i), StatusCode::kWaitingOnDependencies,
                      "waiting_on_dependencies (first)", "{}", "k" + std::to_string(i), {"first"}});
  auto run = f.store->CreateRun(r, f.clock.Now());
  REQUIRE(run);
  auto jobs = *f.store->ListJobs(run->id);
  REQUIRE(f.store->TransitionJob(jobs[7].id, StatusCode::kWaitingOnDependencies, StatusCode::kHeld,
                                 "held by researcher", f.clock.Now()));
  const std::string& alice = f.token[Role::kResearcher];
  const std::string path = "/v1/runs/" + std::to_string(run->id.value);

  // Without paging: every job, as before, and the counts.
  auto all = f.CallJson("GET", path, alice);
  CHECK(all["jobs"].size() == 2501);
  CHECK(all["job_counts"]["by_state"]["pending"] == 2501);
  CHECK(all["job_counts"]["by_status"]["waiting_on_dependencies"] == 2499);
  CHECK(all["job_counts"]["by_status"]["held"] == 1);

  // Pages of 1,000, by id, each job once, with its needs.
  std::vector<std::int64_t> seen;
  std::string cursor = "0";
  int pages = 0;
  for (;;) {
    auto page = f.CallJson("GET", path + "?jobs_limit=1000&cursor=" + cursor, alice);
    REQUIRE(page["jobs"].size() <= 1000);
    for (const auto& j : page["jobs"]) seen.push_back(j["id"].get<std::int64_t>());
    ++pages;
    if (page["jobs_next_cursor"].is_null()) break;
    cursor = page["jobs_next_cursor"].get<std::string>();
  }
  CHECK(pages == 3);
  REQUIRE(seen.size() == 2501);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
  auto second = f.CallJson("GET", path + "?jobs_limit=1&cursor=" + std::to_string(jobs[0].id.value), alice);
  CHECK(second["jobs"][0]["needs"] == json::array({jobs[0].id.value}));

  // Attention: the job waiting on resources and the held one, not the 2,499
  // waiting on their dependencies.
  auto attention = f.CallJson("GET", path + "?jobs=attention&jobs_limit=20", alice);
  REQUIRE(attention["jobs"].size() == 2);
  CHECK(attention["jobs"][0]["action"] == "first");
  CHECK(attention["jobs"][1]["status_code"] == "held");
  CHECK(attention["jobs_next_cursor"].is_null());
  CHECK(attention["job_counts"]["by_state"]["pending"] == 2501);

  // Bad parameters are refused with the field named.
  CHECK(f.CallJson("GET", path + "?jobs_limit=20000", alice, "", 400)["error"]["details"]["field"] == "jobs_limit");
  CHECK(f.CallJson("GET", path + "?jobs_limit=-1", alice, "", 400)["error"]["details"]["field"] == "jobs_limit");
  CHECK(f.CallJson("GET", path + "?cursor=x", alice, "", 400)["error"]["details"]["field"] == "cursor");
  CHECK(f.CallJson("GET", path + "?jobs=everything", alice, "", 400)["error"]["details"]["field"] == "jobs");
}

TEST_CASE("hold, release, cancel and retry a job") {
  Fixture f;
  const std::string& alice = f.token[Role::kResearcher];
  std::string job = "/v1/jobs/" + std::to_string(f.jobs1[0].id.value);
  CHECK(f.CallJson("POST", job + "/hold", alice)["status_code"] == "held");
  CHECK(f.CallJson("POST", job + "/hold", alice)["status_code"] == "held");  // idempotent
  CHECK(f.CallJson("POST", job + "/release", alice)["status_code"] == "waiting_on_resources");
  CHECK(f.CallJson("POST", job + "/cancel", alice)["status_code"] == "cancelled_by_user");
  auto again = f.CallJson("POST", job + "/cancel", alice, "", 409);
  CHECK(again["error"]["message"].get<std::string>().find("cannot go from cancelled/cancelled_by_user") != std::string::npos);
  auto retried = f.CallJson("POST", job + "/retry", alice);
  CHECK(retried["attempt"] == 2);
  CHECK(retried["state"] == "pending");
  auto events = f.CallJson("GET", job + "/events", alice);
  CHECK(events["events"].size() == 5);
  CHECK(events["events"][4]["reason"] == "retried by researcher@example.org");
  CHECK(f.CallJson("POST", job + "/release", alice, "", 409)["error"]["message"] ==
        "job " + std::to_string(f.jobs1[0].id.value) + " is not held");
  // The checker may look but not act.
  CHECK(f.Call("POST", job + "/cancel", f.token[Role::kChecker]).status == 403);
}

TEST_CASE("cancelling a run cancels every job that has not ended") {
  Fixture f;
  auto r = f.CallJson("POST", "/v1/runs/" + std::to_string(f.run1.id.value) + "/cancel",
                      f.token[Role::kAdmin]);
  CHECK(r["cancelled_jobs"] == 2);
  CHECK(r["state"] == "cancelled");
  auto job = f.CallJson("GET", "/v1/jobs/" + std::to_string(f.jobs1[1].id.value), f.token[Role::kAdmin]);
  CHECK(job["status_code"] == "killed_by_admin");
}

TEST_CASE("quotas are set at runtime and bad ones name the field") {
  Fixture f;
  const std::string& admin = f.token[Role::kAdmin];
  auto q = f.CallJson("PUT", "/v1/projects/p1/quota", admin,
                      R"({"max": {"gpus": 4, "memory": "1T"}, "per_job": {"max_time": "24h"}})");
  CHECK(q["max"]["gpus"] == 4);
  CHECK(q["max"]["memory"] == "1T");
  CHECK(f.CallJson("GET", "/v1/projects/p1/quota", f.token[Role::kResearcher])["per_job"]["max_time"] == "1d");
  // Stored as given, never rounded: 1.9951T is not 2T.
  f.CallJson("PUT", "/v1/projects/p1/quota", admin,
             R"({"max": {"memory": "1.9951T"}, "per_job": {"max_disk": "1073741825"}})");
  auto exact = f.CallJson("GET", "/v1/projects/p1/quota", admin);
  CHECK(exact["max"]["memory"] == "1.9951T");
  CHECK(exact["per_job"]["max_disk"] == "1073741825");
  CHECK(f.store->GetProject("p1")->quota.max.memory_bytes == core::ParseBytes("1.9951T").value());
  auto bad = f.CallJson("PUT", "/v1/projects/p1/quota", admin, R"({"max": {"gpus": "four"}})", 400);
  CHECK(bad["error"]["details"]["field"] == "max.gpus");
  auto junk = f.CallJson("PUT", "/v1/projects/p1/quota", admin, "{not json", 400);
  CHECK(junk["error"]["details"]["field"] == "body");
  CHECK(junk["error"]["message"] == "the body is not valid JSON");
  auto empty = f.CallJson("POST", "/v1/projects", admin, "", 400);
  CHECK(empty["error"]["message"] == "the request needs a JSON body");
  auto type = f.CallJson("POST", "/v1/projects", admin, R"({"name": 7})", 400);
  CHECK(type["error"]["details"]["field"] == "name");
  auto missing = f.CallJson("POST", "/v1/projects", admin, R"({"description": "x"})", 400);
  CHECK(missing["error"]["details"]["field"] == "name");
  auto badname = f.CallJson("POST", "/v1/projects", admin, R"({"name": "Bad Name"})", 400);
  CHECK(badname["error"]["details"]["field"] == "name");
}

TEST_CASE("tokens: shown once, stored hashed, revocable, expiring") {
  Fixture f;
  const std::string& admin = f.token[Role::kAdmin];
  auto made = f.CallJson("POST", "/v1/tokens", admin,
                         R"({"user": "bob@example.org", "role": "researcher", "expires_in": "1h"})", 201);
  std::string secret = made["token"];
  CHECK(secret.size() == 4 + 64);
  CHECK(f.CallJson("GET", "/v1/whoami", secret)["user"] == "bob@example.org");
  // The listing never shows secrets.
  auto list = f.Call("GET", "/v1/tokens", admin);
  CHECK(list.body.find(secret) == std::string::npos);
  CHECK(list.body.find(secret.substr(4)) == std::string::npos);
  // Expiry.
  f.clock.Advance(2h);
  CHECK(f.CallJson("GET", "/v1/whoami", secret, "", 401)["error"]["message"] == "the token has expired");
  // Revocation.
  auto other = f.CallJson("POST", "/v1/tokens", admin, R"({"user": "carol@example.org", "role": "steward"})", 201);
  std::string carol = other["token"];
  f.CallJson("DELETE", "/v1/tokens/" + std::to_string(other["id"].get<int>()), carol);
  CHECK(f.CallJson("GET", "/v1/whoami", carol, "", 401)["error"]["message"] == "the token was revoked");
  // Researchers cannot mint tokens for others or other roles.
  CHECK(f.Call("POST", "/v1/tokens", f.token[Role::kResearcher], R"({"role": "admin"})").status == 403);
  CHECK(f.Call("POST", "/v1/tokens", f.token[Role::kResearcher], "{}").status == 201);
  CHECK(f.CallJson("GET", "/v1/whoami", "slu_" + std::string(64, '0'), "", 401)["error"]["message"] == "the token is not valid");
}

TEST_CASE("requests over a user's rate get 429 with Retry-After") {
  api::ApiOptions o;
  o.rate_per_second = 1;
  o.rate_burst = 3;
  Fixture f(o);
  for (int i = 0; i < 3; ++i) CHECK(f.Call("GET", "/v1/whoami", f.token[Role::kAdmin]).status == 200);
  auto r = f.Call("GET", "/v1/whoami", f.token[Role::kAdmin]);
  CHECK(r.status == 429);
  CHECK(r.headers == std::vector<std::pair<std::string, std::string>>{{"Retry-After", "1"}});
  // Another token of the same person shares the bucket; another person's
  // does not; time refills it.
  auto second = auth::IssueToken(*f.store, f.clock.Now(), "admin@example.org", Role::kAdmin, "second",
                                     std::nullopt);
  REQUIRE(second);
  CHECK(f.Call("GET", "/v1/whoami", second->second).status == 429);
  CHECK(f.Call("GET", "/v1/whoami", f.token[Role::kAuditor]).status == 200);
  f.clock.Advance(2s);
  CHECK(f.Call("GET", "/v1/whoami", f.token[Role::kAdmin]).status == 200);
}

TEST_CASE("each project's webhook has its own rate bucket") {
  api::ApiOptions o;
  o.rate_per_second = 0.001;
  o.rate_burst = 2;
  Fixture f(o);
  std::map<std::string, std::string> secret;
  for (const char* p : {"p1", "p2"}) {
    auto made = f.CallJson("POST", std::string("/v1/projects/") + p + "/webhook", f.token[Role::kAdmin], "", 201);
    secret[p] = made["secret"];
  }
  auto ping = [&](const std::string& p) {
    api::HttpRequest req;
    req.method = "POST";
    req.path = "/v1/hooks/git/" + p;
    req.headers["x-gitlab-token"] = secret[p];
    req.headers["x-gitlab-event"] = "Note Hook";
    return f.api->Handle(req).status;  // 503 past the limit here: no git service
  };
  CHECK(ping("p1") != 429);
  CHECK(ping("p1") != 429);
  CHECK(ping("p1") == 429);
  CHECK(ping("p2") != 429);  // p1's pings do not starve p2
}

TEST_CASE("unknown routes and methods, and pagination") {
  Fixture f;
  const std::string& admin = f.token[Role::kAdmin];
  CHECK(f.Call("GET", "/v1/nope", admin).status == 404);
  CHECK(f.Call("PATCH", "/v1/projects", admin).status == 405);
  for (int i = 0; i < 5; ++i) f.MakeRun("p1");
  auto page1 = f.CallJson("GET", "/v1/runs?project=p1&limit=4", admin);
  REQUIRE(page1["runs"].size() == 4);
  auto page2 = f.CallJson("GET", "/v1/runs?project=p1&limit=4&cursor=" + page1["next_cursor"].get<std::string>(), admin);
  CHECK(page2["runs"].size() == 2);
  CHECK(page2["next_cursor"].is_null());
  CHECK(f.CallJson("GET", "/v1/runs?limit=0", admin, "", 400)["error"]["details"]["field"] == "limit");
  CHECK(f.CallJson("GET", "/v1/runs?state=bogus", admin, "", 400)["error"]["details"]["field"] == "state");
}

TEST_CASE("an encoded '/' stays inside its path segment") {
  Fixture f;
  const std::string& admin = f.token[Role::kAdmin];
  // Given a project p1 with a quota route, "p1%2Fquota" is one segment: the
  // project "p1/quota", which does not exist; it is never p1's quota.
  auto r = f.Call("GET", "/v1/projects/p1%2Fquota", admin);
  CHECK(r.status == 404);
  CHECK(r.body.find("\"max\"") == std::string::npos);
  CHECK(f.Call("GET", "/v1/projects/p1%2fquota", admin).status == 404);
  // Nor does it reach a route with more segments than the path has.
  CHECK(f.Call("PUT", "/v1/projects/p1%2Fmembers%2Feve@example.org", admin).status == 405);
  CHECK_FALSE(f.store->ProjectsOf("eve@example.org")->size() > 0);
  // Other escapes decode as before, after the split.
  CHECK(f.Call("GET", "/v1/projects/%70%31/quota", admin).status == 200);
  CHECK(f.Call("GET", "/v1/projects/p1/quota", admin).status == 200);
  auto health = f.Call("GET", "/%68ealthz", "");
  CHECK(health.status == 200);
  // A malformed escape is refused before routing.
  api::HttpRequest req;
  CHECK_FALSE(api::ParseTarget("/v1/projects/p1%2", &req.path, &req.query));
  CHECK_FALSE(api::ParseTarget("/v1/projects/p1%00/quota", &req.path, &req.query));
}

TEST_CASE("metrics are Prometheus text with job counts and latencies") {
  Fixture f;
  f.Call("GET", "/healthz", "");
  auto r = f.Call("GET", "/metrics", f.token[Role::kAdmin]);
  REQUIRE(r.status == 200);
  CHECK(r.content_type.starts_with("text/plain; version=0.0.4"));
  CHECK(r.body.find("sluss_jobs{project=\"p1\",state=\"pending\"} 2") != std::string::npos);
  CHECK(r.body.find("sluss_http_requests_total{route=\"/healthz\",status=\"200\"} 1") != std::string::npos);
  CHECK(r.body.find("sluss_http_request_duration_seconds_bucket{le=\"+Inf\"}") != std::string::npos);
}

TEST_CASE("admins drain nodes and pause the queue, the state survives a restart") {
  Fixture f;
  const std::string& admin = f.token[Role::kAdmin];
  auto d = f.CallJson("POST", "/v1/nodes/node1/drain", admin, R"({"reason": "disk replacement"})");
  CHECK(d["drained"] == true);
  CHECK(d["by"] == "admin@example.org");
  auto nodes = f.CallJson("GET", "/v1/nodes", admin);
  CHECK(nodes["nodes"][0]["state"] == "drained");
  CHECK(nodes["nodes"][0]["reason"] == "disk replacement");
  CHECK(f.Call("POST", "/v1/nodes/nope/drain", admin).status == 404);
  CHECK(f.CallJson("POST", "/v1/nodes/node1/drain", admin, R"({"reasn": "x"})", 400)["error"]["details"]["field"] == "reasn");
  CHECK(f.CallJson("GET", "/v1/queue", f.token[Role::kResearcher])["paused"] == false);
  f.CallJson("POST", "/v1/queue/pause", admin, R"({"reason": "upgrade at 18:00"})");
  // A new Api on the same store (a restarted daemon) sees both.
  api::ApiOptions o;
  core::Node n;
  n.name = "node1";
  o.nodes.push_back(n);
  api::Api again(*f.store, f.clock, o);
  api::HttpRequest req;
  req.method = "GET";
  req.path = "/v1/queue";
  req.headers["authorization"] = "Bearer " + f.token[Role::kResearcher];
  auto q = json::parse(again.Handle(req).body);
  CHECK(q["paused"] == true);
  CHECK(q["reason"] == "upgrade at 18:00");
  req.path = "/v1/nodes";
  req.headers["authorization"] = "Bearer " + admin;
  CHECK(json::parse(again.Handle(req).body)["nodes"][0]["state"] == "drained");
  f.CallJson("POST", "/v1/nodes/node1/resume", admin);
  f.CallJson("POST", "/v1/queue/resume", admin);
  CHECK(f.CallJson("GET", "/v1/nodes", admin)["nodes"][0]["state"] == "up");
  CHECK(f.CallJson("GET", "/v1/queue", admin)["paused"] == false);

  // One project paused: its members see it, with who, when and why.
  const std::string alice = f.token[Role::kResearcher];
  CHECK(f.CallJson("GET", "/v1/projects/p1", alice)["paused"].is_null());
  f.CallJson("POST", "/v1/projects/p1/pause", admin, R"({"reason": "permit under review"})");
  auto p = f.CallJson("GET", "/v1/projects/p1", alice);
  CHECK(p["paused"]["reason"] == "permit under review");
  CHECK(p["paused"]["by"] == "admin@example.org");
  CHECK(f.Call("POST", "/v1/projects/p1/pause", alice).status == 403);
  CHECK(f.Call("POST", "/v1/projects/nope/pause", admin).status == 404);
  f.CallJson("POST", "/v1/projects/p1/resume", admin);
  CHECK(f.CallJson("GET", "/v1/projects/p1", alice)["paused"].is_null());

  // Usage: the month by default, a named period, a custom one; bad ones named.
  auto u = f.CallJson("GET", "/v1/projects/p1/usage", alice);
  CHECK(u["accounting"]["period"] == "month");
  CHECK(u["accounting"]["totals"]["jobs"] == 0);
  u = f.CallJson("GET", "/v1/projects/p1/usage?period=week&at=2026-11-26", alice);
  CHECK(u["accounting"]["from"] == "2026-11-23T00:00:00.000Z");
  CHECK(u["accounting"]["until"] == "2026-11-30T00:00:00.000Z");
  u = f.CallJson("GET", "/v1/projects/p1/usage?from=2026-01-01&until=2026-07-01", alice);
  CHECK(u["accounting"]["period"] == "custom");
  CHECK(f.CallJson("GET", "/v1/projects/p1/usage?period=year", alice, "", 400)["error"]["details"]["field"] == "period");
  CHECK(f.CallJson("GET", "/v1/projects/p1/usage?from=2026-07-01&until=2026-01-01", alice, "", 400)["error"]["details"]["field"] == "until");
}

TEST_CASE("usage shows the project's disk: outputs kept and running jobs' workspaces, against max.disk") {
  Fixture f;
  const std::string& admin = f.token[Role::kAdmin];
  const std::string& alice = f.token[Role::kResearcher];
  auto u = f.CallJson("GET", "/v1/projects/p1/usage", alice);
  CHECK(u["disk"]["total_bytes"] == 0);
  CHECK(u["disk"]["max_bytes"].is_null());
  // A job that kept 3 outputs (1.5 MiB in all) and one running with a 1 MiB workspace.
  core::JobResult r;
  r.status = "succeeded";
  r.outputs_count = 3;
  r.outputs_bytes = 3 << 19;
  REQUIRE(f.store->UpdateJob(f.jobs1[0].id, 1, {.result_json = core::ToJson(r).dump()}));
  REQUIRE(f.store->TransitionJobs(
      {{f.jobs1[1].id, f.jobs1[1].status, core::StatusCode::kPreparing, "starting",
        {.workspace_bytes = 1 << 20}}},
      f.clock.Now()));
  f.CallJson("PUT", "/v1/projects/p1/quota", admin, R"({"max": {"disk": "2.5M"}})");
  u = f.CallJson("GET", "/v1/projects/p1/usage", alice);
  CHECK(u["disk"]["outputs_bytes"] == 3 << 19);
  CHECK(u["disk"]["workspaces_bytes"] == 1 << 20);
  CHECK(u["disk"]["total_bytes"] == (3 << 19) + (1 << 20));
  CHECK(u["disk"]["max_bytes"] == 5 << 19);
  CHECK(f.CallJson("GET", "/v1/projects/p1/quota", alice)["max"]["disk"] == "2.5M");
  // Another project's disk is its own.
  CHECK(f.CallJson("GET", "/v1/projects/p2/usage", admin)["disk"]["total_bytes"] == 0);
}

TEST_CASE("anonymous and rate-limited requests are counted per client and minute, other denials each recorded") {
  api::ApiOptions o;
  o.rate_burst = 10;
  o.rate_per_second = 0.001;
  Fixture f(o);
  auto size = [&] { return *f.store->AuditSize(); };
  auto anonymous = [&](const std::string& remote) {
    api::HttpRequest req;
    req.method = "GET";
    req.path = "/v1/runs";
    req.remote = remote;
    return f.api->Handle(req);
  };
  const auto before = size();
  for (int i = 0; i < 1000; ++i) CHECK(anonymous("203.0.113.9").status == 401);
  CHECK(size() == before + 1);  // the first of the minute
  CHECK(anonymous("198.51.100.7").status == 401);
  CHECK(size() == before + 2);  // another client's first
  f.clock.Advance(61s);
  CHECK(anonymous("203.0.113.9").status == 401);
  // The minute's count, for each client that sent more than one, then the
  // new minute's first.
  auto records = *f.store->ListAudit(before, 100);
  REQUIRE(records.size() == 4);
  CHECK(records[2].action == "api.denied");
  CHECK(records[2].subject == "client/203.0.113.9");
  CHECK(nlohmann::json::parse(records[2].payload.value_or("{}"))["count"] == 999);
  CHECK(records[3].subject == "/v1/runs");
  // Over the rate limit: counted the same way.
  const auto before_limit = size();
  int limited = 0;
  for (int i = 0; i < 100; ++i) limited += f.Call("GET", "/v1/projects", f.token[Role::kAdmin]).status == 429;
  CHECK(limited >= 80);
  CHECK(size() == before_limit + 1);
  // A refused role is a person's act: each is recorded.
  const auto before_role = size();
  for (int i = 0; i < 5; ++i) CHECK(f.Call("GET", "/v1/nodes", f.token[Role::kResearcher]).status == 403);
  CHECK(size() == before_role + 5);
  // Reading the log until it is empty ends.
  std::int64_t after = 0;
  int pages = 0;
  for (; pages < 100; ++pages) {
    auto page = f.CallJson("GET", "/v1/audit?limit=1000&after=" + std::to_string(after), f.token[Role::kAuditor]);
    if (page["records"].empty()) break;
    after = page["next_after"].get<std::int64_t>();
  }
  CHECK(pages < 5);
}

TEST_CASE("a token made with a token never outlives it") {
  Fixture f;
  auto parent = auth::IssueToken(*f.store, f.clock.Now(), "researcher@example.org", Role::kResearcher,
                                     "short", std::chrono::seconds(3600));
  REQUIRE(parent);
  auto child = f.CallJson("POST", "/v1/tokens", parent->second, R"({"expires_in": "366d"})", 201);
  REQUIRE(child["expires_at"].is_string());
  CHECK(child["expires_at"] == core::FormatRfc3339(*parent->first.expires_at));
  // Once the parent has expired, so has the child.
  f.clock.Advance(3601s);
  CHECK(f.Call("GET", "/v1/whoami", child["token"]).status == 401);
  // A token with no expiry (or a later one) does not shorten what it makes.
  auto longer = f.CallJson("POST", "/v1/tokens", f.token[Role::kAdmin], R"({"expires_in": "2h"})", 201);
  CHECK(longer["expires_at"] == core::FormatRfc3339(f.clock.Now() + std::chrono::hours(2)));
}

TEST_CASE("a JSON body with a key twice in one object is refused, at any depth") {
  Fixture f;
  auto r = f.CallJson("POST", "/v1/projects", f.token[Role::kAdmin], R"({"name": "a1", "name": "b1"})", 400);
  INFO(r.dump());
  CHECK(r["error"]["message"].get<std::string>().find("appears twice") != std::string::npos);
  CHECK(r["error"]["details"]["field"] == "body");
  f.CallJson("PUT", "/v1/projects/p1/quota", f.token[Role::kAdmin],
             R"({"max": {"gpus": 1, "gpus": 100}})", 400);
  CHECK(f.store->GetProject("a1").error().code == core::ErrorCode::kNotFound);
  CHECK(f.store->GetProject("b1").error().code == core::ErrorCode::kNotFound);
  // The same key in two objects is fine.
  f.CallJson("POST", "/v1/projects", f.token[Role::kAdmin], R"({"name": "a2", "quota": {"max": {"gpus": 1}, "per_job": {"max_gpus": 1}}})", 201);
}

TEST_CASE("a change whose audit record cannot be written is not made (503)") {
  Fixture f;
  const std::string admin = f.token[Role::kAdmin];
  const std::string db = f.dir / "state.db";
  const auto audit_before = *f.store->AuditSize();
  // The store refuses the request's record, as a full disk or a busy
  // timeout would.
  REQUIRE(testing::RunSql(db,
                          "CREATE TRIGGER fail_audit BEFORE INSERT ON audit "
                          "WHEN NEW.action = 'api.request' "
                          "BEGIN SELECT RAISE(ABORT, 'disk full'); END;")
              .exit_code == 0);
  auto created = f.Call("POST", "/v1/projects", admin, R"({"name":"p3"})");
  CHECK(created.status == 503);
  CHECK(created.body.find("nothing was changed") != std::string::npos);
  CHECK(f.store->GetProject("p3").error().code == core::ErrorCode::kNotFound);
  auto quota = f.Call("PUT", "/v1/projects/p1/quota", admin, R"({"max_running_jobs":3})");
  CHECK(quota.status == 503);
  CHECK(f.store->GetProject("p1")->quota.max_running_jobs != 3);
  auto token = f.Call("POST", "/v1/tokens", admin, R"({"name":"x"})");
  CHECK(token.status == 503);
  CHECK(f.store->ListTokens(std::nullopt)->size() == 7);
  // A job's hold, made by the store with its own records, goes with them.
  auto hold = f.Call("POST", "/v1/jobs/" + std::to_string(f.jobs1[0].id.value) + "/hold",
                     f.token[Role::kResearcher]);
  CHECK(hold.status == 503);
  CHECK(f.store->GetJob(f.jobs1[0].id)->status == StatusCode::kWaitingOnResources);
  CHECK(*f.store->AuditSize() == audit_before);
  // The log takes records again: the same requests go through, audited.
  REQUIRE(testing::RunSql(db, "DROP TRIGGER fail_audit;").exit_code == 0);
  CHECK(f.Call("POST", "/v1/projects", admin, R"({"name":"p3"})").status == 201);
  CHECK(f.store->GetProject("p3").has_value());
  auto records = *f.store->ListAudit(audit_before, 100);
  REQUIRE_FALSE(records.empty());
  CHECK(records.back().action == "api.request");
  CHECK(records.back().subject == "/v1/projects");
}

TEST_CASE("the web page: served at / without a token, with strict headers, only GET") {
  Fixture f;
  auto header = [](const api::HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) if (k == name) return v;
    return std::string();
  };
  for (const char* path : {"/", "/web/app.js", "/web/app.css"}) {
    auto r = f.Call("GET", path, "");
    INFO(path);
    CHECK(r.status == 200);
    CHECK(!r.body.empty());
    CHECK(header(r, "Content-Security-Policy").find("default-src 'self'") != std::string::npos);
    CHECK(header(r, "Content-Security-Policy").find("frame-ancestors 'none'") != std::string::npos);
    CHECK(header(r, "X-Content-Type-Options") == "nosniff");
    CHECK(header(r, "Referrer-Policy") == "no-referrer");
  }
  CHECK(f.Call("GET", "/", "").content_type == "text/html; charset=utf-8");
  CHECK(f.Call("GET", "/web/app.js", "").content_type == "text/javascript; charset=utf-8");
  // Nothing else under /web/, and the page is only read.
  CHECK(f.Call("GET", "/web/../../etc/passwd", "").status == 404);
  CHECK(f.Call("GET", "/web/app.js.map", "").status == 404);
  CHECK(f.Call("POST", "/", "").status == 404);
  // The page never writes HTML from data: no innerHTML, no eval.
  auto js = f.Call("GET", "/web/app.js", "").body;
  CHECK(js.find("innerHTML") == std::string::npos);
  CHECK(js.find("eval(") == std::string::npos);
}

TEST_CASE("runs filter by branch (a name or a full ref), the queue lists what has not ended") {
  Fixture f;
  const std::string& alice = f.token[Role::kResearcher];
  core::NewRun r;
  r.project = "p1";
  r.commit = std::string(40, 'd');
  r.ref = "refs/heads/dev";
  r.submitted_by = "researcher@example.org";
  r.jobs = {{"extract", StatusCode::kWaitingOnResources, "waiting_on_resources: needs 1 GPU", "{}", "k1", {}}};
  auto dev = f.store->CreateRun(r, f.clock.Now());
  REQUIRE(dev);
  auto runs = f.CallJson("GET", "/v1/runs?branch=dev", alice)["runs"];
  REQUIRE(runs.size() == 1);
  CHECK(runs[0]["id"] == dev->id.value);
  CHECK(f.CallJson("GET", "/v1/runs?branch=refs/heads/dev&project=p1", alice)["runs"].size() == 1);
  CHECK(f.CallJson("GET", "/v1/runs?branch=main", alice)["runs"].empty());

  // The queue: every job not ended, each with its reason; a researcher sees
  // only her projects', the admin all; a bad state is named.
  auto mine = f.CallJson("GET", "/v1/jobs", alice)["jobs"];
  CHECK(mine.size() == 3);
  for (const auto& j : mine) CHECK(j["project"] == "p1");
  auto all = f.CallJson("GET", "/v1/jobs?state=pending", f.token[Role::kAdmin])["jobs"];
  CHECK(all.size() == 5);
  CHECK(all[0]["reason"] == "waiting_on_resources: needs 1 GPU");
  CHECK(f.CallJson("GET", "/v1/jobs?state=running", f.token[Role::kAdmin])["jobs"].empty());
  CHECK(f.CallJson("GET", "/v1/jobs?project=p2", alice)["jobs"].empty());
  CHECK(f.CallJson("GET", "/v1/jobs?state=succeeded", alice, "", 400)["error"]["details"]["field"] == "state");

  // The audit log's size comes with each page, so that a page of the
  // newest records can be asked for.
  auto page = f.CallJson("GET", "/v1/audit?limit=10000", f.token[Role::kAuditor]);
  REQUIRE(!page["records"].empty());
  CHECK(page["size"].get<std::int64_t>() >= page["records"].back()["seq"].get<std::int64_t>());
  auto newest = f.CallJson("GET", "/v1/audit?limit=1&after=" + std::to_string(page["size"].get<std::int64_t>() - 1),
                           f.token[Role::kAuditor]);
  REQUIRE(newest["records"].size() == 1);
  CHECK(newest["records"][0]["seq"] == page["size"]);
}

TEST_CASE("usage over time: ?series= gives the accounting per bucket of the period") {
  Fixture f;
  const std::string& alice = f.token[Role::kResearcher];
  auto u = f.CallJson("GET", "/v1/projects/p1/usage?from=2026-11-01&until=2026-11-04&series=day", alice);
  auto s = u["accounting"]["series"];
  REQUIRE(s.size() == 3);
  CHECK(s[0]["from"] == "2026-11-01T00:00:00.000Z");
  CHECK(s[2]["until"] == "2026-11-04T00:00:00.000Z");
  CHECK(s[1]["gpu_hours"] == 0.0);
  CHECK(f.CallJson("GET", "/v1/projects/p1/usage", alice)["accounting"]["series"].is_null());
  CHECK(f.CallJson("GET", "/v1/projects/p1/usage?period=month&at=2026-02-10&series=week", alice)
            ["accounting"]["series"].size() == 4);
  CHECK(f.CallJson("GET", "/v1/projects/p1/usage?series=hour", alice, "", 400)["error"]["details"]["field"] == "series");
  CHECK(f.CallJson("GET", "/v1/projects/p1/usage?from=2020-01-01&until=2026-01-01&series=day", alice, "", 400)
            ["error"]["details"]["field"] == "series");

  // A job that ends today with 2 CPU-hours on 1 GPU shows in today's bucket.
  const auto today = std::chrono::floor<std::chrono::days>(f.clock.Now());
  const std::string around = "/v1/projects/p1/usage?series=day&from=" +
                             core::FormatRfc3339(today - std::chrono::days(1)) +
                             "&until=" + core::FormatRfc3339(today + std::chrono::days(2));
  const core::JobId id = f.jobs1[0].id;
  REQUIRE(f.store->TransitionJob(id, StatusCode::kWaitingOnResources, StatusCode::kPreparing, "", f.clock.Now()));
  REQUIRE(f.store->TransitionJob(id, StatusCode::kPreparing, StatusCode::kExecuting, "", f.clock.Now()));
  f.clock.Advance(1h);
  core::JobUpdate done;
  done.result_json = R"({"status": "succeeded", "cpu_seconds": 7200, "wall_seconds": 3600, "gpus": ["0"]})";
  REQUIRE(f.store->TransitionJob(id, StatusCode::kExecuting, StatusCode::kSucceeded, "", f.clock.Now(), done));
  s = f.CallJson("GET", around, alice)["accounting"]["series"];
  REQUIRE(s.size() == 3);
  CHECK(s[0]["cpu_hours"] == 0.0);
  CHECK(s[1]["cpu_hours"].get<double>() == Approx(2.0));
  CHECK(s[1]["gpu_hours"].get<double>() == Approx(1.0));
  CHECK(s[2]["jobs"] == 0);
  CHECK(s[1]["jobs"] == 1);
}
