#pragma once

// The local executor: each attempt runs under its own detached sluss-run on
// this host, in STATE/jobs/<job>-<attempt>/. slussd can die and restart
// while jobs run: they go on, and Reattach picks them up again.

#include <memory>
#include <string>

#include "core/executor.h"
#include "core/job_spec.h"

namespace sluss::executors {

struct LocalOptions {
  std::string jobs_dir;       // where job directories are made
  std::string sluss_run;      // the sluss-run binary
  // Containers are named <prefix>-<job>-<attempt>. slussd derives the
  // prefix from its state directory, so that two installations on one host
  // (tests, a demo) never share a container name.
  std::string container_prefix = "sluss";
  std::string runtime = "runc";
  std::string runtime_root;   // empty: the runtime's default
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string cgroup_parent = "/sluss";
  std::string output_fs = "loop";  // or "none"
  std::string cdi_spec;       // for GPU jobs
  std::int64_t log_bytes = std::int64_t{100} << 20;
  int kill_grace_seconds = 10;
};

// An approved image as this node runs it, with its digest: the `host` image
// (made in `host_dir`), or a directory root file system (hashed once; slow
// for a large image).
core::Result<core::LaunchRequest::Image> ResolveImage(const std::string& name,
                                                      const std::string& rootfs, bool host,
                                                      const std::string& host_dir);

// An attempt's directory under `jobs_dir`: `<job>-<attempt>-<key>`
// (core::AttemptKey), or `<job>-<attempt>` for an empty key.
std::string AttemptDir(const std::string& jobs_dir, core::JobId job, int attempt,
                       const std::string& key);
// The directory of `job`'s `attempt` as it is on disk: the keyed one, else
// one an earlier slussd made before attempts had keys.
std::string FindAttemptDir(const std::string& jobs_dir, const core::Job& job, int attempt);

// How sluss-run's result.json says an attempt ended, as an outcome.
core::JobOutcome OutcomeOfResult(const core::JobResult& result);

// Makes `dir` (0700) and writes the attempt's spec.json there, unless one
// is there already (a second launch of the same attempt): what sluss-run
// runs, the same wherever it runs (here, or on a Slurm node). `o` gives
// the sandbox settings, `runtime_version` the runtime's as asked once.
// `gpus_from_slurm`: the request's GPUs are Slurm's to choose on the node
// (RunSpec::gpus_from_slurm), not the request's names.
core::Result<void> WriteAttemptSpec(const LocalOptions& o, const std::string& runtime_version,
                                    const core::LaunchRequest& request, const std::string& dir,
                                    bool gpus_from_slurm = false);

class LocalExecutor final : public core::Executor {
 public:
  LocalExecutor(LocalOptions options, Callbacks callbacks);
  ~LocalExecutor() override;
  LocalExecutor(const LocalExecutor&) = delete;
  LocalExecutor& operator=(const LocalExecutor&) = delete;

  core::Result<void> Launch(const core::LaunchRequest& request) override;
  core::Result<void> Cancel(core::JobId job, int attempt, CancelMode mode) override;
  std::vector<core::RunningAttempt> Reattach(
      const std::vector<core::RunningAttempt>& running) override;
  std::vector<std::string> LogFiles(core::JobId job, int attempt, const std::string& attempt_key,
                                    const std::string& stream) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluss::executors
