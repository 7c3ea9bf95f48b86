#pragma once

// The Executor port: where jobs run. executors/local runs them on this host
// under sluss-run; a Slurm executor submits the same sluss-run to Slurm.
// The engine decides what runs and where; an executor only runs, watches,
// cancels and reports. It holds no scheduling policy.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/ids.h"
#include "core/job_state.h"
#include "core/time.h"
#include "core/types.h"

namespace sluss::core {

// What names one attempt of one job and nothing else: 16 hex digits of
// SHA-256 over the job's id, run, action, creation time (ms) and the
// attempt number. Job ids repeat after a restored backup; a job that reuses
// an id was created at another time, so its attempts' keys differ, and an
// executor never takes another job's directory, container or result for
// its own. Anyone holding the job row can compute it.
std::string AttemptKey(const Job& job, int attempt);

// Everything an executor needs to run one attempt of a job, with host paths
// resolved by the engine.
struct LaunchRequest {
  JobId job;
  int attempt = 1;
  std::string attempt_key;  // AttemptKey(job, attempt)
  std::string project;
  std::string node;
  struct Image {
    std::string name;
    std::string digest;
    std::string rootfs;
    std::vector<std::string> host_binds;
  } image;
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string workspace;  // host directory with the job's code
  std::int64_t workspace_bytes = 0;  // its files' bytes (the project's disk)
  struct Dataset {
    std::string name, version, path;
  };
  std::vector<Dataset> datasets;
  struct Input {
    std::string path;    // "output/cohort.csv"
    std::string source;  // host file
  };
  std::vector<Input> inputs;
  std::vector<std::string> outputs;  // declared paths and globs
  // What the attempt runs with, every field set (the scheduler's
  // EffectiveResources): CPU quota, memory limit, wall clock, output space.
  // `gpus` is the count; `gpus` below names them.
  Resources resources;
  std::vector<std::string> gpus;  // device names on the node
};

// How an attempt ended, as the executor saw it.
struct JobOutcome {
  StatusCode status = StatusCode::kInternalError;  // a terminal code
  std::string message;                              // for people
  std::optional<int> exit_code;
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> ended_at;
  // The executor's full record (sluss-run's result.json): usage, outputs
  // with SHA-256, runtime, hashes. Stored with the job for provenance.
  std::string result_json;
};

// Where and with what an attempt runs, as the scheduler placed it.
struct Placement {
  std::string node;
  std::vector<int> gpus;  // node indices
  // Every field set: what the scheduler counted, which the sandbox enforces.
  Resources resources;
};

// Turns a placed job into what an executor runs: the code's workspace, the
// image, the datasets (checked again), the outputs of its needs. kPermissionDenied:
// no valid permit covers its data any more (permit_invalid);
// kResourceExhausted: the commit's files are over the workspace limit
// (workspace_limit); kFailedPrecondition/kNotFound/kInvalidArgument: the job
// cannot run as asked (it fails with the message).
class LaunchPreparer {
 public:
  virtual ~LaunchPreparer() = default;
  virtual Result<LaunchRequest> Prepare(const Job& job, const Run& run,
                                        const Placement& placement) = 0;
};

// An attempt the store says is running, handed to Reattach after a restart.
struct RunningAttempt {
  JobId job;
  int attempt = 1;
  std::string attempt_key;  // AttemptKey(job, attempt)
  std::string node;         // where it was placed (its pool), as the job row says
};

class Executor {
 public:
  struct Callbacks {
    // The attempt's container runs. Called on an executor thread.
    std::function<void(JobId, int attempt)> started;
    // The attempt ended (or was found ended). Called once per attempt, on
    // an executor thread.
    std::function<void(JobId, int attempt, const JobOutcome&)> finished;
  };

  virtual ~Executor() = default;
  // Starts the attempt and returns without waiting for it. Idempotent: a
  // second launch of the same attempt starts nothing new.
  virtual Result<void> Launch(const LaunchRequest& request) = 0;
  // Asks the attempt to stop: kGraceful sends TERM, then KILL after a grace
  // time; kNow kills at once (a revoked permit: the data must stop being
  // read now). Its end is reported through `finished` as cancelled.
  // kSupervisor: the attempt's supervisor did not answer a stop (hung or
  // frozen): it is killed, and its container with it; the end is reported
  // as node_lost.
  enum class CancelMode { kGraceful, kNow, kSupervisor };
  virtual Result<void> Cancel(JobId job, int attempt, CancelMode mode) = 0;
  // After a restart: watches each attempt again. One still running is
  // watched; one that ended while the daemon was down is reported finished;
  // one that vanished without a result is reported node_lost. Returns the
  // attempts never launched (the daemon died between persisting the
  // decision and launching), which the engine launches again.
  virtual std::vector<RunningAttempt> Reattach(const std::vector<RunningAttempt>& running) = 0;
  // Where the attempt's stdout and stderr are ("stdout" or "stderr"), for
  // the logs API: the files, oldest first. Empty when unknown, or when
  // `attempt_key` is given and the attempt there is another's.
  virtual std::vector<std::string> LogFiles(JobId job, int attempt, const std::string& attempt_key,
                                            const std::string& stream) const = 0;
};

}  // namespace sluss::core
