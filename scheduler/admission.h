#pragma once

// Admission: a pure function from a pushed (or asked-for) pipeline and what
// is known about the world at that moment to a new run, or the reasons it
// is refused. Every decision of submit time is here, next to the planner:
// which dataset version each action gets and through which permit, whether
// its image is approved, whether it could ever run (the project's per-job
// limits and the largest node), its cache key and whether an earlier job
// with that key is reused, its first status and reason, whether an unsigned
// commit may run, and whether the project's queue has room. The git intake
// only does the I/O around it: it fetches, reads sluss.yaml and the tree,
// hashes the code, gathers the facts and stores the outcome.
//
// No I/O, no clock reads, no threads. `find_cached` is the one look-up the
// caller provides (the project's succeeded jobs by cache key); tests give a
// map.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/ids.h"
#include "core/job_spec.h"
#include "core/permit.h"
#include "core/pipeline.h"
#include "core/time.h"
#include "core/types.h"

namespace sluss::scheduler {

struct AdmissionFacts {
  std::string project;
  core::Quota quota;
  // The person the run is credited to; their permits count.
  std::string person;
  core::TimePoint now;
  std::vector<core::Permit> permits;           // the project's
  std::vector<core::DatasetVersion> datasets;  // every registered version
  std::vector<core::Image> images;             // approved (name and digest)
  // The largest node: a job that asks for more can never run. Zero fields
  // are not checked. Its disk_bytes is the node's output limit per job
  // (sandbox.output_limit), the cap on resources.disk where the project's
  // quota sets no per_job.max_disk.
  core::Resources largest_node;
  // What a job gets for what it does not declare (checked like a request).
  core::ResourceDefaults defaults;
  // Per action: the digest of the files its `code` globs select.
  std::map<std::string, std::string> code_digests;
  // The project's succeeded job with this cache key, if any.
  std::function<std::optional<core::JobId>(const std::string& cache_key)> find_cached;
  // Jobs of the project pending now (for quota.max_queued_jobs).
  std::int64_t queued = 0;
  // The commit: its short id (for messages), its author's e-mail and the
  // check of its signature; with `require_signed`, only a good one runs.
  std::string commit_short;
  std::string author_email;
  std::string signature_status;  // "good", "bad", "unsigned", ...
  std::string signature_detail;
  bool require_signed = false;
  // Only these actions and what they need; empty: all. `force` ignores the
  // cache for the actions asked for (all when none are named).
  std::vector<std::string> only_actions;
  bool force = false;
  // Why the commit's tree may not become a workspace (an entry whose name
  // could leave it, gitsync::BadTreeEntryName), naming the path; empty: fine.
  // Such a run is refused whatever its sluss.yaml says.
  std::string tree_error;
  // Recorded in each job's spec.
  core::Submission submission;
  // The most actions one run may have (an admin's limit; 0: none). A
  // larger pipeline is refused before any action is looked at.
  int max_actions = 0;
};

struct AdmittedJob {
  core::JobSpec spec;        // datasets resolved, image digest and submission set
  std::string cache_key;     // "sha256:..."
  core::StatusCode status = core::StatusCode::kWaitingOnResources;  // or cached, waiting_on_dependencies
  std::string reason;
};

struct Admission {
  // In an order where every job comes after its needs. Empty when refused.
  std::vector<AdmittedJob> jobs;
  // Why the run is refused: "sluss.yaml:LINE:COL: ..." for the file's
  // errors, a sentence for the run's (signature, queue). Empty: admitted.
  std::vector<std::string> errors;
};

// `parsed` is the pipeline, or the diagnostics of a file that did not
// parse (or was missing). kInvalidArgument (field "actions") when an action
// in `facts.only_actions` does not exist: a bad request, not a run.
core::Result<Admission> Admit(const core::PipelineResult& parsed, const AdmissionFacts& facts);

// Why a job asking for `request` (what it leaves unset: `defaults`) can
// never start, or nothing: the project's per-job and total limits and the
// largest node.
std::optional<std::string> NeverFits(const core::ResourceRequest& request,
                                     const core::ResourceDefaults& defaults,
                                     const core::Quota& quota, const core::Resources& largest_node);

// The version of `ref` a job of `person` gets at `now`, and the permit
// that allows it; kFailedPrecondition/kPermissionDenied saying why not.
core::Result<core::ResolvedDataset> ResolveForJob(const core::DatasetRef& ref,
                                                  const std::vector<core::Permit>& permits,
                                                  const std::vector<core::DatasetVersion>& versions,
                                                  const std::string& project,
                                                  const std::string& person, core::TimePoint now);

// A job's cache key: "sha256:" over its canonical spec (CacheKeyJson, with
// the resolved dataset versions), the image digest, the dataset ids, the
// digest of the code it reads and the keys of its needs. Equal keys mean
// the job would compute the same thing.
std::string CacheKey(const core::JobSpec& spec, const std::string& image_digest,
                     const std::string& code_digest, std::vector<std::string> needs_keys);

}  // namespace sluss::scheduler
