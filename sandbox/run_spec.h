#pragma once

// What sluss-run is asked to run (RunSpec, the executor writes it as
// JOBDIR/spec.json) and what it reports (JobResult, JOBDIR/result.json).
// Both are plain data with a JSON form; the JSON is the contract between
// the daemon and sluss-run, which may run on another host (Slurm).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"
#include "core/job_spec.h"

namespace sluss::sandbox {

inline constexpr int kSpecVersion = 1;
inline constexpr std::uint32_t kMinJobUid = 10000;

struct ImageSpec {
  std::string name;
  std::string digest;  // "sha256:..."
  std::string rootfs;  // host directory, used read-only
  // Host directories bound read-only at the same path (the `host` image
  // binds /usr and a few /etc entries); empty for a real image.
  std::vector<std::string> host_binds;
};

struct DatasetMount {
  std::string name;     // mounted at /data/<name>
  std::string version;  // for the result
  std::string path;     // host directory
};

// An output of a job this one needs, bound read-only at its own path.
struct InputFile {
  std::string path;    // "output/cohort.parquet", under /workspace
  std::string source;  // host file
};

struct Limits {
  std::int64_t milli_cpus = 1000;
  std::int64_t memory_bytes = std::int64_t{4} << 30;
  std::int64_t pids = 1024;
  std::chrono::seconds time_limit{3600};
  std::int64_t output_bytes = std::int64_t{10} << 30;  // writable space
  std::int64_t tmp_bytes = std::int64_t{1} << 30;      // /tmp tmpfs
  std::int64_t log_bytes = std::int64_t{100} << 20;    // per stream, tail kept
  std::int64_t nofile = 4096;
  std::chrono::seconds kill_grace{10};  // SIGTERM -> SIGKILL on cancel
};

struct RunSpec {
  int version = kSpecVersion;
  std::string id;  // container id, unique per attempt: "sluss-12-1-0123abcd"
  // The attempt's random key (core::Job::attempt_key): whoever finds this
  // directory can tell whose attempt it holds. Empty: an attempt launched
  // before keys existed.
  std::string attempt_key;
  std::string runtime = "runc";           // binary name or path
  std::string runtime_root;               // --root; empty: the runtime's own
  // "1.1.5": saves asking the runtime each time; empty: sluss-run asks.
  std::string runtime_version;
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string cgroup_parent = "/sluss";   // absolute cgroupsPath parent
  // "loop": outputs go to an ext4 image of output_bytes, so a job cannot
  // fill the host disk. "none": a plain directory (tests on hosts without
  // loop devices); recorded in the result.
  std::string output_fs = "loop";
  ImageSpec image;
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string workspace;  // host directory with the code, read-only
  std::vector<DatasetMount> datasets;
  std::vector<InputFile> inputs;
  // Declared outputs (paths or globs under output/), sensitive and
  // releasable; what matches is collected and hashed.
  std::vector<std::string> outputs;
  Limits limits;
  std::uint32_t uid = kMinJobUid;
  std::uint32_t gid = kMinJobUid;
  std::vector<std::string> gpus;  // CDI device names (UUIDs) given to the job
  // > 0: a Slurm batch job's GPUs, this many: `gpus` is empty, and the
  // supervisor takes the ones Slurm allocated on its node (SlurmGpus).
  int gpus_from_slurm = 0;
  std::string cdi_spec;            // the CDI spec file to read them from
};

core::Result<RunSpec> ParseRunSpec(const nlohmann::json& json);
nlohmann::json ToJson(const RunSpec& spec);

// What sluss-run reports is core's JobResult (the job contract's other
// half), written as JOBDIR/result.json.
using core::JobResult;
using core::OutputFile;

}  // namespace sluss::sandbox
