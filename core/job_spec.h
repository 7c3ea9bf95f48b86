#pragma once

// The job contract: what a job asks for (JobSpec), as admitted from
// sluss.yaml and stored with the job, and what an attempt did (JobResult,
// sluss-run's result.json). Every writer and reader (the git intake, the
// engine, the job preparer, the permit watch, the API, provenance,
// accounting, executors) goes through these types; no module reads their
// JSON by key. A field added here is carried everywhere it is read, or the
// build says where it is not.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"
#include "core/pipeline.h"
#include "core/types.h"

namespace sluss::core {

// Version 1: the rows written before JobSpec (no "version" key), the same
// shape. Version 2 adds the key. Both load.
inline constexpr int kJobSpecVersion = 2;

// A dataset as admitted: the version it resolved to, its id (the manifest's
// digest) and the permit that allowed it.
struct ResolvedDataset {
  std::string name;
  std::string version;  // empty before admission
  std::string id;       // "sha256:..."
  std::string permit;
  bool operator==(const ResolvedDataset&) const = default;
};

// The commit a pushed run came from, as recorded at submit.
struct CommitRecord {
  std::string author;     // "Alice <alice@example.org>"
  std::string committer;
  std::string time;       // RFC 3339
  std::string message;    // at most 4 KiB
  struct Signature {
    std::string status;   // "good", "bad", "unsigned", "unknown_key", ...
    std::string format;   // "ssh", "gpg", ""
    std::string signer;
    std::string detail;
    bool operator==(const Signature&) const = default;
  } signature;
  bool operator==(const CommitRecord&) const = default;
};

// What only submit time knows; not an input of the job (not in the cache key).
struct Submission {
  std::string repository;
  std::string tree;
  std::string pipeline_sha256;
  std::optional<CommitRecord> commit;
  bool operator==(const Submission&) const = default;
};

struct JobSpec {
  int version = kJobSpecVersion;
  std::string name;  // the action
  std::string image;
  std::vector<std::string> argv;
  std::vector<std::string> needs;  // sorted
  std::vector<ResolvedDataset> datasets;
  ResourceRequest resources;
  Outputs outputs;                 // each list sorted
  std::vector<std::string> code;   // sorted
  RetryPolicy retries;             // `on` sorted by name
  std::vector<std::pair<std::string, std::string>> env;  // sorted by name
  int priority = 0;
  std::string image_digest;  // of the approved image at submit
  Submission submitted;

  // Whether an attempt that ended with `status` is retried (it is listed
  // in retries.on and `attempt` is within retries.max further attempts).
  bool Retries(StatusCode status, int attempt) const;
  // Every declared output path or glob, sensitive first.
  std::vector<std::string> AllOutputs() const;
  // "releasable" for a collected output path that a releasable path or
  // glob matches; "sensitive" otherwise (nothing leaves unless declared).
  std::string LevelOf(std::string_view path) const;
  // What sluss.yaml declared for the disclosure checks of a collected
  // releasable output: the first declaring path or glob that matches, in
  // sorted order; empty controls when none does.
  OutputControls ControlsOf(std::string_view path) const;

  bool operator==(const JobSpec&) const = default;
};

// The spec of an action as parsed, before admission: datasets carry only
// their names and pinned versions; lists are sorted.
JobSpec SpecOf(const Action& action);

// The stored form (every field).
nlohmann::json ToJson(const JobSpec& spec);
nlohmann::json ToJson(const CommitRecord& commit);
// The part of the spec that is an input of the job, hashed into its cache
// key: the stored form less version, image_digest, priority and submitted.
// Unchanged from the first stored shape, so cache keys stay stable.
nlohmann::json CacheKeyJson(const JobSpec& spec);
// Reads either stored version; a field of the wrong type is an error that
// names it.
Result<JobSpec> JobSpecFromJson(const nlohmann::json& json);
Result<JobSpec> ParseJobSpec(std::string_view text);

// What a job gets when its spec leaves a resource unset.
struct ResourceDefaults {
  std::int64_t milli_cpus = 1000;
  std::int64_t memory_bytes = std::int64_t{1} << 30;
  std::chrono::seconds time_limit{3600};
  std::int64_t disk_bytes = std::int64_t{10} << 30;
};

// The resources a job runs with: what it declared, else the project's
// per-job time limit (for time), else the defaults. The scheduler counts
// exactly these, and the sandbox enforces exactly these.
Resources EffectiveResources(const ResourceRequest& request, const ResourceDefaults& defaults,
                             const Quota& quota);

// One collected output of an attempt.
struct OutputFile {
  std::string path;  // "output/table1.csv"
  std::int64_t size = 0;
  std::string sha256;  // hex
  bool operator==(const OutputFile&) const = default;
};

// A job may write any number of outputs (up to the sandbox's 100,000
// entries); its result, stored in the database and shown by `run show`,
// lists the first kMaxListedOutputs collected, and the manifest file
// (kOutputManifest, in the attempt's `outputs/` directory beside `output/`)
// lists every one, as JSON lines of {"path", "size", "sha256"}.
inline constexpr std::size_t kMaxListedOutputs = 1000;
inline constexpr std::string_view kOutputManifest = "MANIFEST.jsonl";
std::string FormatOutputManifest(const std::vector<OutputFile>& files);
// kInvalidArgument naming the line when a line is not an output.
Result<std::vector<OutputFile>> ParseOutputManifest(std::string_view text);

// A GPU job's use of its GPUs, as NVML measured it on the host while the
// job ran (sampled every few seconds).
struct GpuUsage {
  // "nvml" when measured; else "unavailable: <why>" (no driver library,
  // NVML failed). Empty for a job without GPUs.
  std::string source;
  std::int64_t samples = 0;
  double utilization_pct = 0;  // mean over samples and GPUs
  std::int64_t memory_peak_bytes = 0;  // of the job's own processes, all GPUs
  double energy_joules = 0;            // the GPUs' energy counters' rise
  std::int64_t processes = 0;          // the job's processes seen on its GPUs
  bool operator==(const GpuUsage&) const = default;
};

// What an attempt did: sluss-run's result.json, stored with the job.
struct JobResult {
  // succeeded, nonzero_exit, oom_killed, timed_out, output_limit,
  // missing_outputs, cancelled, internal_error
  std::string status;
  std::string message;  // for people: why, when not succeeded
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string started_at;  // RFC 3339 UTC
  std::string ended_at;
  double wall_seconds = 0;
  double cpu_seconds = 0;
  std::int64_t memory_peak_bytes = 0;
  std::int64_t pids_peak = 0;
  std::int64_t oom_kills = 0;
  // The limits the sandbox applied (so that a record shows what was
  // enforced, not only what was asked).
  std::int64_t limit_milli_cpus = 0;
  std::int64_t limit_memory_bytes = 0;
  std::int64_t limit_time_seconds = 0;
  std::int64_t limit_output_bytes = 0;
  std::vector<OutputFile> outputs;  // the first kMaxListedOutputs collected
  // How many outputs were collected in all, and the SHA-256 of the manifest
  // that lists them (empty for results written before it existed, which
  // list every output).
  std::int64_t outputs_count = 0;
  std::string outputs_manifest_sha256;
  std::int64_t outputs_bytes = 0;  // of all outputs kept (the project's disk)
  std::vector<std::string> gpus;
  std::vector<std::string> gpu_uuids;  // of the GPUs' device nodes, when the driver says
  std::string gpu_driver_version;
  std::string cdi_spec_sha256;
  GpuUsage gpu_usage;
  std::string runtime;          // "runc"
  std::string runtime_version;  // "1.1.5"
  std::string cgroup_version;   // "v1" or "v2"
  std::string config_sha256;    // of config.json
  std::string seccomp_sha256;   // of the seccomp profile as written
  std::string output_fs;        // "loop" or "none"
  std::string image_digest;
  bool operator==(const JobResult&) const = default;
};

nlohmann::json ToJson(const JobResult& result);
Result<JobResult> JobResultFromJson(const nlohmann::json& json);
// Text as stored; empty text is kNotFound (no attempt has ended).
Result<JobResult> ParseJobResult(std::string_view text);

}  // namespace sluss::core
