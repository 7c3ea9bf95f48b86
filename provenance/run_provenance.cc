#include "provenance/run_provenance.h"

#include <set>

#include "core/strings.h"
#include "provenance/run_crate.h"

namespace sluss::provenance {

using core::StrCat;
using nlohmann::json;

namespace {

core::Result<nlohmann::json> Record(core::Store& store, const core::Project& project,
                                    const core::Run& run, const core::Job& job) {
  if (job.status == core::StatusCode::kCached) {
    auto hit = store.FindSucceededJob(job.project, job.cache_key);
    if (!hit) return std::unexpected(hit.error());
    if (*hit) {
      auto reused = store.GetJob(**hit);
      if (!reused) return std::unexpected(reused.error());
      return provenance::JobProvenance(project, run, job, &*reused);
    }
  }
  return provenance::JobProvenance(project, run, job);
}

}  // namespace

core::Result<nlohmann::json> JobProvenanceOf(core::Store& store, core::JobId id) {
  auto job = store.GetJob(id);
  if (!job) return std::unexpected(job.error());
  auto run = store.GetRun(job->run_id);
  if (!run) return std::unexpected(run.error());
  auto project = store.GetProject(job->project);
  if (!project) return std::unexpected(project.error());
  return Record(store, *project, *run, *job);
}

core::Result<nlohmann::json> RunCrateOf(core::Store& store, core::RunId id) {
  auto run = store.GetRun(id);
  if (!run) return std::unexpected(run.error());
  auto project = store.GetProject(run->project);
  if (!project) return std::unexpected(project.error());
  auto jobs = store.ListJobs(id);
  if (!jobs) return std::unexpected(jobs.error());
  std::vector<nlohmann::json> records;
  for (const auto& j : *jobs) {
    auto r = Record(store, *project, *run, j);
    if (!r) return std::unexpected(r.error());
    records.push_back(std::move(*r));
  }
  json crate = provenance::RunCrate(*project, *run, records);
  // The run's released outputs: one Action per released request, naming
  // its files (by their entity in this crate), hashes, reviewers and the
  // times of its decisions.
  auto releases = store.ListReleases(run->project, "");
  if (!releases) return std::unexpected(releases.error());
  for (const auto& r : *releases) {
    if (r.state != "released") continue;
    json objects = json::array(), files = json::array(), agents = json::array();
    std::set<std::string> reviewers;
    for (const auto& f : r.files) {
      if (f.run != id.value) continue;
      auto job = store.GetJob(core::JobId{f.job});
      if (!job) return std::unexpected(job.error());
      objects.push_back({{"@id", StrCat("outputs/", job->action, "/", f.path)}});
      files.push_back({{"path", f.path}, {"sha256", f.sha256}, {"size", f.size}, {"verdict", f.verdict}});
      for (const auto& v : f.votes) reviewers.insert(v.checker);
    }
    if (objects.empty()) continue;
    json decisions = json::array();
    for (const auto& e : r.history)
      decisions.push_back({{"state", e.state}, {"by", e.by}, {"at", core::FormatRfc3339(e.at)}});
    for (const auto& who : reviewers) {
      agents.push_back({{"@id", StrCat("#checker-", who)}});
      crate["@graph"].push_back({{"@id", StrCat("#checker-", who)}, {"@type", "Person"}, {"name", who}});
    }
    std::string released_at;
    for (const auto& e : r.history)
      if (e.state == "released") released_at = core::FormatRfc3339(e.at);
    crate["@graph"].push_back({{"@id", StrCat("#release-", r.id)},
                               {"@type", "Action"},
                               {"name", StrCat("release request ", r.id, " of ", r.project, " by ", r.author)},
                               {"actionStatus", "http://schema.org/CompletedActionStatus"},
                               {"startTime", core::FormatRfc3339(r.created_at)},
                               {"endTime", released_at},
                               {"object", objects},
                               {"agent", agents},
                               {"releasedFiles", files},
                               {"decisions", decisions}});
  }
  return crate;
}

}  // namespace sluss::provenance
