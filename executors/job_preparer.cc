#include "executors/job_preparer.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/digest.h"
#include "core/job_spec.h"
#include "core/permit.h"
#include "core/strings.h"
#include "logging/log.h"

namespace sluss::executors {

using logging::Log;
using logging::LogLevel;

using core::StrCat;

namespace {

// Every output of an attempt whose result lists only the first few: its
// manifest in `outputs_dir`, if its hash is the one the result recorded.
core::Result<std::vector<core::OutputFile>> ReadOutputManifest(const std::string& outputs_dir,
                                                               const core::JobResult& result) {
  std::ifstream in(outputs_dir + std::string(core::kOutputManifest), std::ios::binary);
  std::ostringstream text;
  if (!in || !(text << in.rdbuf()))
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("its ", core::kOutputManifest, " cannot be read"));
  if (core::Sha256Hex(text.str()) != result.outputs_manifest_sha256)
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("its ", core::kOutputManifest, " is not the one its result recorded"));
  auto files = core::ParseOutputManifest(text.str());
  if (!files) return std::unexpected(files.error());
  if (static_cast<std::int64_t>(files->size()) != result.outputs_count)
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("its ", core::kOutputManifest, " lists ", files->size(),
                             " outputs, not ", result.outputs_count));
  return files;
}

}  // namespace

core::Result<core::LaunchRequest> JobPreparer::Prepare(const core::Job& job, const core::Run& run,
                                                      const core::Placement& start) {
  auto spec = core::ParseJobSpec(job.spec_json);
  if (!spec)
    return core::Internal(StrCat("the job's stored spec does not load: ", spec.error().message));
  core::LaunchRequest r;
  r.job = job.id;
  r.attempt = job.attempt;
  r.project = job.project;
  r.node = start.node;
  auto named = options_.node_gpu_names.find(start.node);
  const std::vector<std::string>& gpu_names =
      named == options_.node_gpu_names.end() ? options_.gpu_names : named->second;
  for (int g : start.gpus) {
    if (gpu_names.empty()) {
      r.gpus.push_back(std::to_string(g));
    } else if (g < 0 || static_cast<std::size_t>(g) >= gpu_names.size()) {
      return core::Internal(StrCat("GPU slot ", g, " is not one of the node's ",
                                   gpu_names.size(), " GPUs"));
    } else {
      r.gpus.push_back(gpu_names[static_cast<std::size_t>(g)]);
    }
  }
  // What the scheduler counted is what the sandbox enforces.
  r.resources = start.resources;
  r.resources.gpus = static_cast<int>(start.gpus.size());

  auto img = options_.images->Find(spec->image);
  if (!img)
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("image ", core::Quote(spec->image), " is not approved on node ",
                             start.node));
  r.image = {img->name, img->digest, img->rootfs, img->host_binds};
  r.argv = spec->argv;
  for (const auto& [k, v] : spec->env) r.env[k] = v;
  r.env["SLUSS_JOB"] = std::to_string(job.id.value);
  r.env["SLUSS_ACTION"] = job.action;
  r.env["SLUSS_ATTEMPT"] = std::to_string(job.attempt);

  if (!spec->datasets.empty()) {
    auto permits = store_.ListPermits(job.project);
    if (!permits) return std::unexpected(permits.error());
    const core::TimePoint now = options_.clock->Now();
    for (const auto& d : spec->datasets) {
      if (auto p = core::FindPermit(*permits, job.project, d.name, d.version, run.submitted_by,
                                    now);
          !p)
        return std::unexpected(p.error());
      auto ds = options_.datasets->Check(d.name, d.version);
      if (!ds) return std::unexpected(ds.error());
      if (ds->id != d.id)
        return core::Fail(core::ErrorCode::kFailedPrecondition,
                          StrCat("dataset ", d.name, " version ", d.version, " is now ", ds->id,
                                 ", not the ", d.id, " the job was submitted with"));
      r.datasets.push_back({d.name, d.version, ds->path});
    }
  }
  r.outputs = spec->AllOutputs();

  // The outputs of each need, from the job that produced them.
  for (core::JobId need_id : job.needs) {
    auto need = store_.GetJob(need_id);
    if (!need) return std::unexpected(need.error());
    core::Job source = *need;
    if (need->status == core::StatusCode::kCached) {
      auto hit = store_.FindSucceededJob(job.project, need->cache_key);
      if (!hit || !*hit)
        return core::Fail(core::ErrorCode::kFailedPrecondition,
                          StrCat("the cached outputs of ", need->action, " are gone"));
      auto original = store_.GetJob(**hit);
      if (!original) return std::unexpected(original.error());
      source = *original;
    }
    auto result = core::ParseJobResult(source.result_json);
    if (!result)
      return core::Fail(core::ErrorCode::kFailedPrecondition,
                        StrCat("the outputs of ", need->action, " (job ", source.id.value,
                               ") are not on record: ", result.error().message));
    const std::string dir = options_.job_dir(source, source.attempt) + "/outputs/";
    std::vector<core::OutputFile> all;
    if (static_cast<std::size_t>(result->outputs_count) > result->outputs.size()) {
      // The result lists the first few; the manifest, checked against the
      // result's hash of it, lists them all.
      auto listed = ReadOutputManifest(dir, *result);
      if (!listed)
        return core::Fail(core::ErrorCode::kFailedPrecondition,
                          StrCat("the outputs of ", need->action, " (job ", source.id.value,
                                 "): ", listed.error().message));
      all = std::move(*listed);
    }
    for (const auto& o : all.empty() ? result->outputs : all) {
      if (o.path.empty()) continue;
      r.inputs.push_back({o.path, dir + o.path});
    }
  }

  // The code at the run's commit, exported once for all of its jobs.
  auto ws = workspaces_.Get(job.project, run.commit);
  if (!ws) return std::unexpected(ws.error());
  r.workspace = ws->path;
  // Counted as the project's disk while the job runs (max.disk).
  r.workspace_bytes = ws->bytes;
  return r;
}

core::Result<int> JobPreparer::SweepWorkspaces() { return workspaces_.Sweep(store_); }

}  // namespace sluss::executors
