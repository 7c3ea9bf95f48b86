#include "provenance/run_outputs.h"

#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>

#include "airlock/output_check.h"
#include "core/job_spec.h"
#include "core/strings.h"

namespace sluss::provenance {

using core::StrCat;
using nlohmann::json;

namespace {

json ControlsJson(const core::OutputControls& c) {
  json j = {{"counts", c.counts}, {"round", c.round}};
  if (c.zeros_disclosive) j["zeros_disclosive"] = *c.zeros_disclosive;
  return j;
}

// Reads the file in chunks into the checks; stops when they need no more.
json CheckFile(const std::string& file, const core::OutputFile& out,
               const core::OutputControls& controls, const airlock::CheckParams& params) {
  airlock::FileCheck check(out.path, out.size, controls, params);
  if (check.wants_bytes()) {
    // sluss-run records paths under output/; one that could leave the job's
    // directory is never opened.
    if (out.path.starts_with("/") || ("/" + out.path + "/").find("/../") != std::string::npos) {
      return {{"error", "the recorded path is not under output/"}};
    }
    std::error_code ec;
    auto st = std::filesystem::symlink_status(file, ec);
    if (ec || !std::filesystem::is_regular_file(st)) {
      return {{"error", "the file is no longer in the job's directory"}};
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) return {{"error", "the file could not be read"}};
    std::string buf(64 << 10, '\0');
    while (check.wants_bytes() && in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      auto n = static_cast<std::size_t>(in.gcount());
      if (n == 0) break;
      check.Feed(std::string_view(buf.data(), n));
    }
    if (in.bad()) return {{"error", "the file could not be read"}};
  }
  return airlock::ToJson(check.Finish(), params);
}

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) return json::object();
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json::object();
}

void WriteWhole(const std::string& path, const json& j) {
  std::string tmp = StrCat(path, ".", ::getpid(), ".", std::hash<std::thread::id>{}(std::this_thread::get_id()), ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      return;  // the report is shown anyway; it is checked again next time
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

}  // namespace

core::Result<json> RunOutputsOf(core::Store& store, core::RunId run_id,
                                const RunOutputsOptions& options) {
  auto run = store.GetRun(run_id);
  if (!run) return std::unexpected(run.error());
  auto jobs = store.ListJobs(run_id);
  if (!jobs) return std::unexpected(jobs.error());
  // What the stewards set for the checks of the run's submitter (as a
  // release request by them would be checked).
  std::map<std::string, airlock::StewardChecks> stewards;
  if (options.clock) {
    auto set = airlock::StewardChecksOf(store, run->project, run->submitted_by, options.clock->Now());
    if (!set) return std::unexpected(set.error());
    stewards = std::move(*set);
  }
  json out_jobs = json::array();
  for (const core::Job& job : *jobs) {
    json jj = {{"job", job.id.value}, {"action", job.action},
               {"status", std::string(core::Name(job.status))}, {"outputs", json::array()}};
    // A cached job's outputs are those of the job it reused.
    core::Job source = job;
    if (job.status == core::StatusCode::kCached) {
      auto hit = store.FindSucceededJob(job.project, job.cache_key);
      if (!hit) return std::unexpected(hit.error());
      if (!*hit) {
        out_jobs.push_back(std::move(jj));
        continue;
      }
      auto reused = store.GetJob(**hit);
      if (!reused) return std::unexpected(reused.error());
      source = *reused;
      jj["made_by_job"] = source.id.value;
    }
    if (source.result_json.empty()) {
      out_jobs.push_back(std::move(jj));
      continue;
    }
    auto spec = core::ParseJobSpec(job.spec_json);
    auto result = core::ParseJobResult(source.result_json);
    if (!spec || !result) {
      jj["error"] = "the job's record cannot be read";
      out_jobs.push_back(std::move(jj));
      continue;
    }
    const std::string dir = options.job_dir ? options.job_dir(source, source.attempt) : "";
    const std::string cache_path = dir.empty() ? "" : dir + "/checks.json";
    json cache = cache_path.empty() ? json::object() : ReadJson(cache_path);
    bool cache_changed = false;
    for (const auto& o : result->outputs) {
      if (o.path.empty()) continue;
      std::string level = spec->LevelOf(o.path);
      json oj = {{"path", o.path}, {"level", level}, {"size", o.size}, {"sha256", o.sha256}};
      if (level == "releasable") {
        auto eff = airlock::Resolve(options.params, stewards, o.path, spec->ControlsOf(o.path));
        if (!eff) {
          oj["checks"] = {{"error", eff.error().message}};
          jj["outputs"].push_back(std::move(oj));
          continue;
        }
        const core::OutputControls& controls = eff->controls;
        json key = {{"sha256", o.sha256},
                    {"controls", ControlsJson(controls)},
                    {"version", airlock::kToolVersion},
                    {"parameters", airlock::ToJson(eff->params)}};
        const json* stored = cache.contains(o.path) ? &cache[o.path] : nullptr;
        if (stored && stored->is_object() && stored->value("key", json()) == key) {
          oj["checks"] = (*stored)["report"];
        } else if (dir.empty()) {
          oj["checks"] = {{"error", "the checks are not available here"}};
        } else {
          json report = CheckFile(dir + "/outputs/" + o.path, o, controls, eff->params);
          if (!report.contains("error")) report["sources"] = eff->sources;
          oj["checks"] = report;
          if (!report.contains("error")) {
            cache[o.path] = {{"key", key}, {"report", report}};
            cache_changed = true;
          }
        }
      }
      jj["outputs"].push_back(std::move(oj));
    }
    if (cache_changed) WriteWhole(cache_path, cache);
    out_jobs.push_back(std::move(jj));
  }
  return json{{"run", run->id.value}, {"project", run->project}, {"commit", run->commit},
              {"jobs", std::move(out_jobs)}};
}

}  // namespace sluss::provenance
