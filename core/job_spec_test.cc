#include "core/job_spec.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

using namespace sluss::core;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

Action Parsed(std::string_view yaml, std::string_view name) {
  auto p = ParsePipeline(yaml);
  REQUIRE(p);
  const Action* a = p->Find(name);
  REQUIRE(a);
  return *a;
}

constexpr const char* kPipeline = R"(version: 1
actions:
  train:
    image: python-3.11
    run: python train.py --epochs 5
    datasets: [zeta, alpha@v2]
    resources: {gpus: 1, cpus: 250m, memory: 256M, time: 30s, disk: 100M}
    outputs: {sensitive: [output/b, output/a], releasable: [output/*.csv]}
    env: {B: "2", A: "1"}
    retries: {max: 2, on: [oom_killed, nonzero_exit]}
    priority: 5
)";

}  // namespace

TEST_CASE("a job spec carries every declared resource through its stored form") {
  JobSpec s = SpecOf(Parsed(kPipeline, "train"));
  s.datasets[0] = {"alpha", "v2", "sha256:aa", "P-1"};
  s.image_digest = "sha256:image";
  s.submitted = {"sluss-hosted:p", "tree", "sha", CommitRecord{"A <a@x>", "C <c@x>", "t", "m",
                                                               {"good", "ssh", "a@x", ""}}};
  auto back = ParseJobSpec(ToJson(s).dump());
  REQUIRE(back);
  CHECK(*back == s);
  CHECK(back->resources.milli_cpus == 250);
  CHECK(back->resources.memory_bytes == 256LL << 20);
  CHECK(back->resources.time_limit == 30s);
  CHECK(back->resources.disk_bytes == 100LL << 20);
  CHECK(back->resources.gpus == 1);
  CHECK(back->version == kJobSpecVersion);
}

TEST_CASE("a spec is canonical: lists sorted, so spellings give one cache key") {
  JobSpec s = SpecOf(Parsed(kPipeline, "train"));
  CHECK(s.outputs.sensitive == std::vector<std::string>{"output/a", "output/b"});
  CHECK(s.datasets[0].name == "alpha");
  CHECK(s.env.front().first == "A");
  // The cache key's form has none of what only submit time knows.
  json k = CacheKeyJson(s);
  for (const char* key : {"version", "image_digest", "priority", "submitted"})
    CHECK_FALSE(k.contains(key));
  CHECK(k["retries"]["on"] == json({"nonzero_exit", "oom_killed"}));
}

TEST_CASE("a stored spec from before the version key still loads") {
  // As the intake wrote it in the first round.
  const char* old = R"({"argv":["python3","a.py"],"code":[],"datasets":[{"id":"sha256:1",
    "name":"rx","permit":"P-7","version":"2026-06"}],"env":{},"image":"python-3.11",
    "image_digest":"sha256:img","name":"a","needs":[],"outputs":{"releasable":[],"sensitive":[]},
    "priority":3,"resources":{"memory_bytes":268435456,"time_limit_s":30},
    "retries":{"max":1,"on":["node_lost","nonzero_exit"]},
    "submitted":{"repository":"r","tree":"t","pipeline_sha256":"p",
    "commit":{"author":"A <a@x>","committer":"A <a@x>","time":"2026-01-01T00:00:00Z",
    "message":"m","signature":{"status":"unsigned","format":"","signer":"","detail":""}}}})";
  auto s = ParseJobSpec(old);
  REQUIRE(s);
  CHECK(s->version == 1);
  CHECK(s->resources.memory_bytes == 256LL << 20);
  CHECK(s->resources.time_limit == 30s);
  CHECK_FALSE(s->resources.milli_cpus);
  CHECK(s->datasets.at(0).permit == "P-7");
  CHECK(s->priority == 3);
  CHECK(s->submitted.commit->signature.status == "unsigned");
  CHECK(s->Retries(StatusCode::kNodeLost, 1));
  CHECK_FALSE(s->Retries(StatusCode::kDiskFull, 1));  // its outputs were lost to a full disk
  CHECK_FALSE(s->Retries(StatusCode::kNodeLost, 2));
  CHECK_FALSE(s->Retries(StatusCode::kOomKilled, 1));
}

TEST_CASE("a damaged stored spec is an error that names the field, never defaults") {
  CHECK(ParseJobSpec("not json").error().code == ErrorCode::kInvalidArgument);
  auto bad = ParseJobSpec(R"({"name":"a","resources":{"memory_bytes":"lots"}})");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().field == "resources.memory_bytes");
  CHECK_FALSE(ParseJobSpec(R"({"name":"a","resources":{"milli_cpus":-5}})"));
  CHECK_FALSE(ParseJobSpec(R"({"version":99})"));
  CHECK_FALSE(ParseJobSpec(R"({"retries":{"on":["exploded"]}})"));
}

TEST_CASE("effective resources: declared, else the project's max time, else the defaults") {
  ResourceDefaults d{.milli_cpus = 1000, .memory_bytes = 1LL << 30, .time_limit = 3600s,
                     .disk_bytes = 10LL << 30};
  Quota q;
  ResourceRequest r{.milli_cpus = 250, .memory_bytes = 256LL << 20};
  Resources e = EffectiveResources(r, d, q);
  CHECK(e.milli_cpus == 250);
  CHECK(e.memory_bytes == 256LL << 20);
  CHECK(e.time_limit == 3600s);
  CHECK(e.disk_bytes == 10LL << 30);
  q.per_job.max_time = 600s;
  CHECK(EffectiveResources(r, d, q).time_limit == 600s);
  r.time_limit = 30s;
  CHECK(EffectiveResources(r, d, q).time_limit == 30s);
}

TEST_CASE("output levels: releasable only where declared releasable") {
  JobSpec s = SpecOf(Parsed(kPipeline, "train"));
  CHECK(s.LevelOf("output/t.csv") == "releasable");
  CHECK(s.LevelOf("output/a") == "sensitive");
  CHECK(s.LevelOf("output/other") == "sensitive");
}

TEST_CASE("a job result round-trips, with the limits the sandbox applied") {
  JobResult r;
  r.status = "oom_killed";
  r.exit_code = 137;
  r.oom_kills = 1;
  r.limit_memory_bytes = 64LL << 20;
  r.limit_milli_cpus = 250;
  r.outputs = {{"output/a", 3, "ab"}};
  r.outputs_count = 1;
  r.outputs_bytes = 3;
  auto back = ParseJobResult(ToJson(r).dump());
  REQUIRE(back);
  CHECK(*back == r);
  // A result written before the count existed counts what it lists.
  auto old = ParseJobResult(R"({"status":"succeeded","outputs":[{"path":"output/a","size":1,"sha256":"x"}]})");
  REQUIRE(old);
  CHECK(old->outputs_count == 1);
  CHECK(old->outputs_manifest_sha256.empty());
  CHECK(ParseJobResult("").error().code == ErrorCode::kNotFound);
  CHECK_FALSE(ParseJobResult(R"({"message":"no status"})"));
}

TEST_CASE("the output manifest lists every output, one JSON line each, and reads back") {
  std::vector<OutputFile> files;
  for (int i = 0; i < 3; ++i) files.push_back({"output/f" + std::to_string(i), i, "ab"});
  const std::string text = FormatOutputManifest(files);
  CHECK(std::count(text.begin(), text.end(), '\n') == 3);
  auto back = ParseOutputManifest(text);
  REQUIRE(back);
  CHECK(*back == files);
  CHECK(ParseOutputManifest("")->empty());
  auto bad = ParseOutputManifest(text + "{\"path\": 3}\n");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "MANIFEST.jsonl line 4 is not an output");
}
