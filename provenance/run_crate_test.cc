#include "provenance/run_crate.h"

#include <catch2/catch.hpp>

namespace sluss::provenance {
namespace {

using nlohmann::json;

core::Job MakeJob(std::int64_t id, const std::string& action, json spec, json result) {
  core::Job j;
  j.id = core::JobId{id};
  j.run_id = core::RunId{3};
  j.project = "p1";
  j.action = action;
  j.status = core::StatusCode::kSucceeded;
  j.spec_json = spec.dump();
  j.result_json = result.dump();
  j.cache_key = "sha256:key" + std::to_string(id);
  j.node = "gpu1";
  j.started_at = core::FromUnixMillis(1'790'000'000'000);
  j.ended_at = core::FromUnixMillis(1'790'000'060'000);
  j.exit_code = 0;
  return j;
}

TEST_CASE("a run's crate names the commit, image digest and dataset ids, and conforms") {
  core::Project project{"p1", "", "file:///srv/p1.git", {}, {}, {}};
  core::Run run;
  run.id = core::RunId{3};
  run.project = "p1";
  run.commit = std::string(40, 'c');
  run.submitted_by = "alice@example.org";
  json extract_spec = {
      {"argv", {"python", "extract.py"}},
      {"image", "python-3.12"},
      {"needs", json::array()},
      {"datasets", {{{"name", "prescriptions"}, {"version", "2026-06"},
                     {"id", "sha256:dataset"}, {"permit", "P-7"}}}},
      {"outputs", {{"sensitive", {"output/cohort.csv"}}, {"releasable", json::array()}}},
      {"submitted", {{"tree", "t"}, {"pipeline_sha256", "y"}, {"repository", "file:///srv/p1.git"}}}};
  json model_spec = {{"argv", {"Rscript", "model.R"}},
                     {"image", "r-4.4"},
                     {"needs", {"extract"}},
                     {"outputs", {{"sensitive", json::array()}, {"releasable", {"output/*.csv"}}}}};
  json result = {{"status", "succeeded"},
                 {"image_digest", "sha256:imagedigest"},
                 {"runtime", "runc"},
                 {"runtime_version", "1.1.5"},
                 {"config_sha256", "cfg"},
                 {"seccomp_sha256", "sec"},
                 {"cpu_seconds", 1.5}};
  json r1 = result;
  r1["outputs"] = {{{"path", "output/cohort.csv"}, {"size", 10}, {"sha256", "o1"}}};
  r1["outputs_count"] = 1;
  r1["outputs_manifest_sha256"] = "m1";
  json r2 = result;
  r2["outputs"] = {{{"path", "output/table1.csv"}, {"size", 20}, {"sha256", "o2"}}};
  r2["gpus"] = {"GPU-4cf8db2d"};
  r2["gpu_usage"] = {{"source", "nvml"}, {"samples", 12}, {"utilization_pct", 71.5},
                     {"memory_peak_bytes", 2147483648}, {"energy_joules", 8400.0},
                     {"processes", 1}};
  auto extract = MakeJob(11, "extract", extract_spec, r1);
  auto model = MakeJob(12, "model", model_spec, r2);
  std::vector<json> jobs = {JobProvenance(project, run, extract), JobProvenance(project, run, model)};

  CHECK(jobs[0]["datasets"][0]["id"] == "sha256:dataset");
  CHECK(jobs[0]["datasets"][0]["permit"] == "P-7");
  CHECK(jobs[0]["image"]["digest"] == "sha256:imagedigest");
  CHECK(jobs[0]["outputs"][0]["level"] == "sensitive");
  CHECK(jobs[1]["outputs"][0]["level"] == "releasable");
  CHECK(jobs[0]["person"] == "alice@example.org");
  CHECK(jobs[0]["runtime"]["name"] == "runc");
  // What the GPUs did, as NVML measured it; nothing for a job without GPUs.
  CHECK(jobs[1]["gpus"] == json({"GPU-4cf8db2d"}));
  CHECK(jobs[1]["gpu_usage"]["utilization_pct"] == 71.5);
  CHECK(jobs[1]["gpu_usage"]["energy_joules"] == 8400.0);
  CHECK(jobs[1]["gpu_usage"]["memory_peak_bytes"] == 2147483648);
  CHECK(jobs[0]["gpu_usage"].is_null());

  json crate = RunCrate(project, run, jobs);
  CHECK(CheckProcessRunCrate(crate).empty());
  std::string text = crate.dump();
  CHECK_THAT(text, Catch::Contains(run.commit));
  CHECK_THAT(text, Catch::Contains("imagedigest"));
  CHECK_THAT(text, Catch::Contains("sha256:dataset"));
  // model's objects include extract's output.
  json model_action;
  for (const auto& e : crate["@graph"])
    if (e["@id"] == "#job-12") model_action = e;
  REQUIRE(model_action.is_object());
  CHECK(model_action["object"][0]["@id"] == "outputs/extract/output/cohort.csv");
  CHECK(model_action["actionStatus"] == "http://schema.org/CompletedActionStatus");
  // Each job's outputs/MANIFEST.jsonl, by its hash: a part of the crate and
  // of the job's result (none for a job whose result names none).
  json manifest, extract_action;
  for (const auto& e : crate["@graph"]) {
    if (e["@id"] == "outputs/extract/MANIFEST.jsonl") manifest = e;
    if (e["@id"] == "#job-11") extract_action = e;
    CHECK(e["@id"] != "outputs/model/MANIFEST.jsonl");
  }
  REQUIRE(manifest.is_object());
  CHECK(manifest["@type"] == "File");
  CHECK(manifest["sha256"] == "m1");
  CHECK(extract_action["result"].back()["@id"] == "outputs/extract/MANIFEST.jsonl");
  bool part = false;
  for (const auto& e : crate["@graph"])
    if (e["@id"] == "./")
      for (const auto& p : e["hasPart"])
        part = part || p["@id"] == "outputs/extract/MANIFEST.jsonl";
  CHECK(part);
}

TEST_CASE("the conformance check names what a crate lacks") {
  json crate = {{"@context", "x"},
                {"@graph",
                 {{{"@id", "ro-crate-metadata.json"}, {"about", {{"@id", "./"}}}},
                  {{"@id", "./"}, {"mentions", {{{"@id", "#a"}}}}},
                  {{"@id", "#a"}, {"@type", "CreateAction"}}}}};
  auto missing = CheckProcessRunCrate(crate);
  auto has = [&](const std::string& s) {
    for (const auto& m : missing)
      if (m.find(s) != std::string::npos) return true;
    return false;
  };
  CHECK(has("Process Run Crate profile"));
  CHECK(has("#a has no instrument"));
  CHECK(has("#a has no containerImage"));
}

}  // namespace
}  // namespace sluss::provenance
