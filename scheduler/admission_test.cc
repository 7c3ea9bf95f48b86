// Given this pipeline and these facts, expect this run or these refusals.

#include "scheduler/admission.h"

#include <catch2/catch.hpp>

namespace sluss::scheduler {
namespace {

using core::JobId;
using core::StatusCode;
using namespace std::chrono_literals;

const core::TimePoint kNow = core::FromUnixMillis(1'800'000'000'000);

core::PipelineResult Parse(std::string_view yaml) { return core::ParsePipeline(yaml); }

core::Permit Permit(std::string id, std::vector<std::string> persons = {"alice@example.org"},
                    std::string dataset = "rx") {
  core::Permit p;
  p.id = std::move(id);
  p.project = "p1";
  p.datasets = {{std::move(dataset), ""}};
  p.persons = std::move(persons);
  p.valid_from = kNow - 24h;
  p.valid_until = kNow + 24h;
  return p;
}

// Registered in the order made: a later version is newer.
core::DatasetVersion Version(std::string version, std::string id,
                             core::DatasetVersion::State state = core::DatasetVersion::State::kReady) {
  static int registered = 0;
  core::DatasetVersion v;
  v.name = "rx";
  v.version = std::move(version);
  v.id = std::move(id);
  v.state = state;
  v.registered_at = kNow - 1h + std::chrono::seconds(++registered);
  return v;
}

AdmissionFacts Facts() {
  AdmissionFacts f;
  f.project = "p1";
  f.person = "alice@example.org";
  f.now = kNow;
  f.images = {{.name = "python-3.11", .digest = "sha256:py"}, {.name = "r-4.2", .digest = "sha256:r"}};
  f.largest_node = {0, 8000, 16LL << 30, 0s, 0};
  f.defaults = {.milli_cpus = 1000, .memory_bytes = 2LL << 30, .time_limit = 3600s,
                .disk_bytes = 10LL << 30};
  f.commit_short = "1a2b3c4d5e";
  f.author_email = "alice@example.org";
  f.signature_status = "unsigned";
  f.permits = {Permit("P-1")};
  f.datasets = {Version("2026-06", "sha256:v1"), Version("2026-07", "sha256:v2")};
  return f;
}

constexpr const char* kStudy = R"(version: 1
actions:
  extract:
    image: python-3.11
    run: python extract.py
    datasets: [rx]
    outputs: {sensitive: [output/cohort.csv]}
  model:
    needs: [extract]
    image: python-3.11
    run: python model.py
    resources: {cpus: 250m, memory: 256M, time: 30s}
  table1:
    needs: [model]
    image: r-4.2
    run: Rscript table1.R
)";

std::vector<std::string> Errors(std::string_view yaml, const AdmissionFacts& f) {
  auto a = Admit(Parse(yaml), f);
  REQUIRE(a);
  CHECK(a->jobs.empty());
  return a->errors;
}

TEST_CASE("a valid pipeline is admitted: datasets resolved, needs waited on, limits kept") {
  auto a = Admit(Parse(kStudy), Facts());
  REQUIRE(a);
  REQUIRE(a->errors.empty());
  REQUIRE(a->jobs.size() == 3);
  const AdmittedJob& extract = a->jobs[0];
  CHECK(extract.spec.name == "extract");
  CHECK(extract.status == StatusCode::kWaitingOnResources);
  REQUIRE(extract.spec.datasets.size() == 1);
  // The newest ready version that the permit covers, and the permit.
  CHECK(extract.spec.datasets[0] == core::ResolvedDataset{"rx", "2026-07", "sha256:v2", "P-1"});
  CHECK(extract.spec.image_digest == "sha256:py");
  const AdmittedJob& model = a->jobs[1];
  CHECK(model.status == StatusCode::kWaitingOnDependencies);
  CHECK(model.reason == "waiting_on_dependencies (extract)");
  CHECK(model.spec.resources.milli_cpus == 250);
  CHECK(model.spec.resources.memory_bytes == 256LL << 20);
  CHECK(model.spec.resources.time_limit == 30s);
  CHECK(a->jobs[2].spec.name == "table1");
  CHECK(extract.cache_key.starts_with("sha256:"));
  CHECK(extract.cache_key != model.cache_key);
}

TEST_CASE("cache keys: the same inputs give the same key, a new dataset version or code changes it") {
  AdmissionFacts f = Facts();
  f.code_digests = {{"extract", "c1"}, {"model", "c2"}, {"table1", "c3"}};
  auto a = Admit(Parse(kStudy), f);
  auto b = Admit(Parse(kStudy), f);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->jobs[2].cache_key == b->jobs[2].cache_key);
  f.code_digests["extract"] = "c1'";
  auto c = Admit(Parse(kStudy), f);
  // extract's code changed: its key, and every key downstream of it.
  for (int i = 0; i < 3; ++i) CHECK(c->jobs[i].cache_key != a->jobs[i].cache_key);
  f = Facts();
  f.code_digests = {{"extract", "c1"}, {"model", "c2"}, {"table1", "c3"}};
  f.datasets.push_back(Version("2026-08", "sha256:v3"));
  auto d = Admit(Parse(kStudy), f);
  CHECK(d->jobs[0].spec.datasets[0].version == "2026-08");
  CHECK(d->jobs[0].cache_key != a->jobs[0].cache_key);
}

TEST_CASE("a cache hit is reused, what needs only cached jobs is ready at once") {
  AdmissionFacts f = Facts();
  auto first = Admit(Parse(kStudy), f);
  REQUIRE(first);
  const std::string extract_key = first->jobs[0].cache_key;
  f.find_cached = [&](const std::string& key) -> std::optional<JobId> {
    if (key == extract_key) return JobId{41};
    return std::nullopt;
  };
  auto a = Admit(Parse(kStudy), f);
  REQUIRE(a);
  CHECK(a->jobs[0].status == StatusCode::kCached);
  CHECK(a->jobs[0].reason == "cached: same inputs as job 41");
  CHECK(a->jobs[1].status == StatusCode::kWaitingOnResources);
  CHECK(a->jobs[2].status == StatusCode::kWaitingOnDependencies);
  // force ignores the cache for the actions asked for.
  f.force = true;
  f.only_actions = {"extract"};
  auto forced = Admit(Parse(kStudy), f);
  REQUIRE(forced);
  REQUIRE(forced->jobs.size() == 1);
  CHECK(forced->jobs[0].status == StatusCode::kWaitingOnResources);
}

TEST_CASE("only_actions: those actions and what they need, an unknown action is a bad request") {
  AdmissionFacts f = Facts();
  f.only_actions = {"model"};
  auto a = Admit(Parse(kStudy), f);
  REQUIRE(a);
  REQUIRE(a->jobs.size() == 2);
  CHECK(a->jobs[0].spec.name == "extract");
  CHECK(a->jobs[1].spec.name == "model");
  f.only_actions = {"nope"};
  auto bad = Admit(Parse(kStudy), f);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == core::ErrorCode::kInvalidArgument);
  CHECK(bad.error().message == "the pipeline at 1a2b3c4d5e has no action 'nope'");
}

TEST_CASE("a file that does not parse is refused with its own diagnostics") {
  auto e = Errors("version: 1\nactions:\n  a:\n    image: python-3.11\n", Facts());
  REQUIRE(e.size() == 1);
  CHECK(e[0].starts_with("sluss.yaml:3:3: actions.a: missing 'run'"));
}

TEST_CASE("refusals at submit, each at its position with the limit named") {
  AdmissionFacts f = Facts();
  f.quota.per_job.max_gpus = 1;
  f.quota.max.memory_bytes = 8LL << 30;
  f.quota.per_job.max_time = 2h;
  f.largest_node.gpus = 2;

  SECTION("memory over the project's total: refused at push, not pending forever") {
    auto e = Errors("version: 1\nactions:\n  big:\n    image: python-3.11\n    run: x\n"
                    "    resources: {memory: 12G}\n", f);
    REQUIRE(e.size() == 1);
    CHECK(e[0] == "sluss.yaml:3:3: actions.big.resources: asks for 12G memory; "
                  "the project may use 8G in all (max.memory)");
  }
  SECTION("memory over the largest node") {
    f.quota = {};
    auto e = Errors("version: 1\nactions:\n  big:\n    image: python-3.11\n    run: x\n"
                    "    resources: {memory: 32G}\n", f);
    CHECK(e.at(0) == "sluss.yaml:3:3: actions.big.resources: asks for 32G memory; "
                     "the largest node has 16G");
  }
  SECTION("the default memory counts too") {
    f.quota.per_job.max_memory_bytes = 1LL << 30;
    auto e = Errors("version: 1\nactions:\n  a:\n    image: python-3.11\n    run: x\n", f);
    CHECK(e.at(0) == "sluss.yaml:3:3: actions.a.resources: gets 2G memory by default; "
                     "the project allows 1G per job (per_job.max_memory)");
  }
  SECTION("output space over the node's output limit, with no per_job.max_disk") {
    f.largest_node.disk_bytes = 10LL << 30;
    auto e = Errors("version: 1\nactions:\n  big:\n    image: python-3.11\n    run: x\n"
                    "    resources: {disk: 1T}\n", f);
    REQUIRE(e.size() == 1);
    CHECK(e[0] == "sluss.yaml:3:3: actions.big.resources: asks for 1T output space (disk); the "
                  "node's output limit is 10G per job (an admin may allow more with the quota's "
                  "per_job.max_disk)");
    auto ok = Admit(Parse("version: 1\nactions:\n  a:\n    image: python-3.11\n    run: x\n"
                          "    resources: {disk: 10G}\n"), f);
    REQUIRE(ok);
    CHECK(ok->errors.empty());
  }
  SECTION("output space over the project's per_job.max_disk") {
    f.largest_node.disk_bytes = 10LL << 30;
    f.quota.per_job.max_disk_bytes = 20LL << 30;
    auto ok = Admit(Parse("version: 1\nactions:\n  a:\n    image: python-3.11\n    run: x\n"
                          "    resources: {disk: 20G}\n"), f);
    REQUIRE(ok);
    CHECK(ok->errors.empty());  // the admin's quota, not the node's default, is the cap
    auto e = Errors("version: 1\nactions:\n  big:\n    image: python-3.11\n    run: x\n"
                    "    resources: {disk: 21G}\n", f);
    REQUIRE(e.size() == 1);
    CHECK(e[0] == "sluss.yaml:3:3: actions.big.resources: asks for 21G output space (disk); the "
                  "project allows 20G per job (per_job.max_disk)");
    f.quota.per_job.max_disk_bytes = 1LL << 30;
    auto d = Errors("version: 1\nactions:\n  a:\n    image: python-3.11\n    run: x\n", f);
    CHECK(d.at(0) == "sluss.yaml:3:3: actions.a.resources: gets 10G output space (disk) by "
                     "default; the project allows 1G per job (per_job.max_disk)");
  }
  SECTION("GPUs per job") {
    auto e = Errors("version: 1\nactions:\n  g:\n    image: python-3.11\n    run: x\n"
                    "    resources: {gpus: 2}\n", f);
    CHECK(e.at(0) == "sluss.yaml:3:3: actions.g.resources: asks for 2 GPUs; the project allows "
                     "1 per job (per_job.max_gpus)");
  }
  SECTION("GPUs the largest node lacks") {
    f.quota = {};
    auto e = Errors("version: 1\nactions:\n  g:\n    image: python-3.11\n    run: x\n"
                    "    resources: {gpus: 4}\n", f);
    CHECK(e.at(0) == "sluss.yaml:3:3: actions.g.resources: asks for 4 GPUs; the largest node has 2");
  }
  SECTION("CPUs over the largest node") {
    f.quota = {};
    auto e = Errors("version: 1\nactions:\n  c:\n    image: python-3.11\n    run: x\n"
                    "    resources: {cpus: 12}\n", f);
    CHECK(e.at(0) == "sluss.yaml:3:3: actions.c.resources: asks for 12 CPUs; the largest node has 8");
  }
  SECTION("GPUs over what one person may hold") {
    f.quota = {};
    f.quota.per_user.max_gpus = 1;
    auto e = Errors("version: 1\nactions:\n  g:\n    image: python-3.11\n    run: x\n"
                    "    resources: {gpus: 2}\n", f);
    CHECK(e.at(0) == "sluss.yaml:3:3: actions.g.resources: asks for 2 GPUs; the project allows 1 "
                     "per person (per_user.max_gpus)");
  }
  SECTION("a GPU reservation over the whole budget") {
    f.quota = {};
    f.quota.budget = core::Quota::Budget{.gpu_hours = 1, .period = "month"};
    auto e = Errors("version: 1\nactions:\n  g:\n    image: python-3.11\n    run: x\n"
                    "    resources: {gpus: 1, time: 2h}\n", f);
    CHECK(e.at(0) == "sluss.yaml:3:3: actions.g.resources: reserves 1 GPUs for 2h (2.0 GPU-hours); "
                     "the project's budget is 1.0 GPU-hours per month (budget.gpu_hours)");
  }
  SECTION("a project that may run no jobs") {
    f.quota = {};
    f.quota.max_running_jobs = 0;
    auto e = Errors("version: 1\nactions:\n  a:\n    image: python-3.11\n    run: x\n", f);
    CHECK(e.at(0).find("max_running_jobs is 0") != std::string::npos);
    f.quota.max_running_jobs.reset();
    f.quota.per_user.max_running_jobs = 0;
    e = Errors("version: 1\nactions:\n  a:\n    image: python-3.11\n    run: x\n", f);
    CHECK(e.at(0).find("per_user.max_running_jobs is 0") != std::string::npos);
  }
  SECTION("time over the per-job limit") {
    auto e = Errors("version: 1\nactions:\n  t:\n    image: python-3.11\n    run: x\n"
                    "    resources: {time: 3h}\n", f);
    CHECK(e.at(0) == "sluss.yaml:3:3: actions.t.resources: asks for 3h; the project allows 2h "
                     "per job (per_job.max_time)");
  }
  SECTION("an image that is not approved, at the image's position") {
    auto e = Errors("version: 1\nactions:\n  a:\n    image: cuda-12\n    run: x\n", f);
    CHECK(e.at(0) == "sluss.yaml:4:12: actions.a.image: image 'cuda-12' is not approved; "
                     "approved: python-3.11, r-4.2");
  }
  SECTION("a dataset no permit lets this person use, at the dataset's position") {
    f.person = "mallory@example.org";
    auto e = Errors(kStudy, f);
    REQUIRE(e.size() == 1);
    CHECK(e[0].starts_with("sluss.yaml:6:16: action extract: "));
    CHECK(e[0].find("mallory@example.org is not a person named in permit P-1") != std::string::npos);
  }
  SECTION("an expired permit") {
    f.permits[0].valid_until = kNow - 1h;
    auto e = Errors(kStudy, f);
    REQUIRE(e.size() == 1);
    CHECK(e[0].find("expired") != std::string::npos);
  }
  SECTION("a dataset that is not registered") {
    f.datasets.clear();
    auto e = Errors(kStudy, f);
    CHECK(e.at(0) == "sluss.yaml:6:16: action extract: dataset rx is not registered; a data "
                     "steward registers it with 'sluss dataset add'");
  }
  SECTION("a pinned version that is still hashing") {
    f.datasets = {Version("2026-06", "", core::DatasetVersion::State::kHashing)};
    auto e = Errors(R"(version: 1
actions:
  a:
    image: python-3.11
    run: x
    datasets: [rx@2026-06]
)", f);
    CHECK(e.at(0) == "sluss.yaml:6:16: action a: dataset rx@2026-06 is hashing");
  }
}

TEST_CASE("every refusal is reported at once, in the file's order") {
  AdmissionFacts f = Facts();
  f.datasets.clear();
  auto e = Errors(R"(version: 1
actions:
  a:
    image: nope
    run: x
    datasets: [rx]
  b:
    image: python-3.11
    run: y
    resources: {memory: 64G}
)", f);
  REQUIRE(e.size() == 3);
  CHECK(e[0].starts_with("sluss.yaml:4:12: actions.a.image"));
  CHECK(e[1].starts_with("sluss.yaml:6:16: action a: dataset rx is not registered"));
  CHECK(e[2].starts_with("sluss.yaml:7:3: actions.b.resources"));
}

TEST_CASE("a required signature: an unsigned commit makes a failed run that says so") {
  AdmissionFacts f = Facts();
  f.require_signed = true;
  auto e = Errors(kStudy, f);
  REQUIRE(e.size() == 1);
  CHECK(e[0].starts_with("commit 1a2b3c4d5e is not signed by a registered key of its author "
                         "alice@example.org (signature: unsigned)"));
  f.signature_status = "good";
  auto ok = Admit(Parse(kStudy), f);
  REQUIRE(ok);
  CHECK(ok->errors.empty());
  CHECK(ok->jobs.size() == 3);
}

TEST_CASE("a tree with a name that could leave the workspace makes a failed run naming it") {
  AdmissionFacts f = Facts();
  f.tree_error = "tree entry '../../../PWNED-tree' refused: a '/' in the name";
  auto a = Admit(Parse(kStudy), f);
  REQUIRE(a);
  CHECK(a->jobs.empty());
  REQUIRE(a->errors.size() == 1);
  CHECK(a->errors[0] ==
        "commit 1a2b3c4d5e: tree entry '../../../PWNED-tree' refused: a '/' in the name: "
        "remove that entry from the history and push again");
  // Also when sluss.yaml does not parse: the tree is what must be fixed.
  auto b = Admit(Parse("version: 9\n"), f);
  REQUIRE(b);
  REQUIRE(b->errors.size() == 1);
  CHECK(b->errors[0].starts_with("commit 1a2b3c4d5e: tree entry"));
}

TEST_CASE("the project's queue limit refuses the whole run") {
  AdmissionFacts f = Facts();
  f.quota.max_queued_jobs = 4;
  f.queued = 2;
  auto e = Errors(kStudy, f);
  REQUIRE(e.size() == 1);
  CHECK(e[0] == "project p1 has 2 jobs queued and this run adds 3; the limit (max_queued_jobs) "
                "is 4: push again when jobs have finished, or ask an admin");
  f.queued = 1;
  auto ok = Admit(Parse(kStudy), f);
  REQUIRE(ok);
  CHECK(ok->jobs.size() == 3);
}

TEST_CASE("the admin's limit on actions per run refuses a larger sluss.yaml up front") {
  AdmissionFacts f = Facts();
  f.max_actions = 2;
  bool looked_up = false;
  f.find_cached = [&](const std::string&) -> std::optional<core::JobId> {
    looked_up = true;
    return std::nullopt;
  };
  auto e = Errors(kStudy, f);
  REQUIRE(e.size() == 1);
  CHECK(e[0] == "sluss.yaml has 3 actions; a run may have at most 2 (git.max_actions_per_run): "
                "split the pipeline, or ask an admin to raise the limit");
  CHECK_FALSE(looked_up);  // no action was admitted
  f.max_actions = 3;
  auto ok = Admit(Parse(kStudy), f);
  REQUIRE(ok);
  CHECK(ok->jobs.size() == 3);
}

}  // namespace
}  // namespace sluss::scheduler
