#pragma once

// The Slurm executor: each attempt is one Slurm batch job that runs
// sluss-run in the foreground on the node Slurm chose, on the same job
// directory (spec.json, outputs, result.json) the local executor uses. The
// jobs directory, workspaces, datasets and images must be at the same paths
// on every node (a shared file system).
//
// Slurm only runs: admission stays with sluss. Every attempt is submitted
// with --no-requeue (sluss owns retries) under a name that carries the job,
// the attempt and its key, after its intent is on disk, so that a slussd
// killed between sbatch and recording the id finds the job by name and never
// submits it twice. One squeue call per poll interval covers every attempt
// (never one per job); sacct, where accounting exists, covers the ones that
// left squeue; sluss-run's result.json is the authority on how an attempt
// ended, and Slurm's state only where there is none. An attempt unknown to
// both is reported lost only after a grace period, and never while squeue
// fails (slurmctld restarting).

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/executor.h"
#include "executors/local.h"

namespace sluss::executors {

// Runs Slurm's client commands (sbatch, squeue, sacct, scancel): the seam
// that unit tests fake. Run blocks until the command ends.
class SlurmRunner {
 public:
  struct Output {
    int status = -1;   // exit code; -1 when it could not start
    std::string text;  // what it printed (stdout and stderr, bounded)
  };
  virtual ~SlurmRunner() = default;
  virtual Output Run(const std::vector<std::string>& argv) = 0;
};
// Runs them as processes (found in PATH, environment inherited: SLURM_CONF).
std::unique_ptr<SlurmRunner> MakeProcessRunner();

struct SlurmOptions {
  // The sandbox as on a local node (runtime, cgroups, output file system),
  // jobs_dir on the shared file system, sluss_run at its path on the nodes,
  // container_prefix also the prefix of Slurm job names.
  LocalOptions node;
  std::string partition, account, qos;
  std::chrono::milliseconds poll_interval{5000};
  // How long an attempt may be unknown to squeue and sacct, or ended in
  // Slurm without a result.json, before it is reported (results can lag
  // on a shared file system).
  std::chrono::milliseconds lost_grace{60000};
  std::chrono::milliseconds result_grace{10000};
  // "auto": sacct when `sacct` answers; "none": never.
  std::string accounting = "auto";
  // Memory sbatch asks for above the job's limit (sluss-run and runc).
  std::int64_t memory_overhead_bytes = std::int64_t{128} << 20;
  // The job's reason while Slurm has the attempt, each time it changes:
  // "waiting in Slurm: Resources (partition debug)", "running in Slurm job
  // 12 on node3", "waiting to reach Slurm: sbatch failed ...". False when
  // it could not be recorded (the job is not executing yet): offered again
  // at the next poll. Called on the poll and submit threads, never twice
  // with the same text once recorded.
  std::function<bool(core::JobId, int attempt, const std::string& reason)> progress;
  // sbatch runs on a thread of its own, in launch order, so that Launch
  // (the engine's cycle) never waits for it; false: within Launch (tests).
  bool submit_thread = true;
  // After an sbatch that failed and may pass later (slurmctld away), the
  // queue waits this long, doubled at each failure in a row up to the max.
  std::chrono::milliseconds submit_backoff{1000};
  std::chrono::milliseconds submit_backoff_max{60000};
  std::function<void(const std::string&)> log;  // warnings for operators
};

class SlurmExecutor final : public core::Executor {
 public:
  // `runner` is used from the caller's thread (Cancel, Reattach), the
  // submit thread and the poll thread, one command at a time. Launch only
  // writes the attempt's spec and queues it: sbatch's failures come back
  // as the job's reason (and are tried again) or as its end.
  SlurmExecutor(SlurmOptions options, Callbacks callbacks, std::unique_ptr<SlurmRunner> runner);
  ~SlurmExecutor() override;
  SlurmExecutor(const SlurmExecutor&) = delete;
  SlurmExecutor& operator=(const SlurmExecutor&) = delete;

  core::Result<void> Launch(const core::LaunchRequest& request) override;
  core::Result<void> Cancel(core::JobId job, int attempt, CancelMode mode) override;
  std::vector<core::RunningAttempt> Reattach(
      const std::vector<core::RunningAttempt>& running) override;
  std::vector<std::string> LogFiles(core::JobId job, int attempt, const std::string& attempt_key,
                                    const std::string& stream) const override;

  // sbatch for the queued attempts that are due, on the caller's thread
  // (tests, with submit_thread false).
  void SubmitQueued();

  // One poll: squeue (and sacct) once, report what ended. The poll thread
  // calls it every poll_interval; tests call it directly (poll_interval 0
  // starts no thread).
  void PollOnce();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluss::executors
