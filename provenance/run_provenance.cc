#include "provenance/run_provenance.h"

#include "provenance/run_crate.h"

namespace sluss::provenance {

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
  return provenance::RunCrate(*project, *run, records);
}

}  // namespace sluss::provenance
