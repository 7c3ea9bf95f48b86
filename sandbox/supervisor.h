#pragma once

// sluss-run's work, as functions: start a job detached (idempotently), run
// it to the end in the foreground, and tell from outside how a job stands.
//
// A job directory holds:
//   spec.json          the RunSpec (written by the executor)
//   supervisor.lock    flock held by the one supervisor of this job
//   supervisor.pid     its pid
//   bundle/config.json the OCI bundle (root is the image, used read-only)
//   stdout.log, stderr.log (+ .1)  the job's output, the tail kept
//   outputs/output/... the collected outputs
//   result.json        written once, atomically, at the end

#include <optional>
#include <string>

#include "core/error.h"
#include "sandbox/run_spec.h"

namespace sluss::sandbox {

// Runs the job in `job_dir` in this process to the end and writes
// result.json. The caller holds the job's lock (see StartDetached). SIGTERM
// or SIGINT cancels the job (TERM, then KILL after the spec's grace time).
JobResult Supervise(const std::string& job_dir);

// "1.1.5+ds1" from `runtime --version`; empty when it does not run.
std::string RuntimeVersion(const std::string& runtime);

struct JobProbe {
  enum class State {
    kNew,       // no supervisor ever ran (no lock taken, no result)
    kRunning,   // a supervisor holds the lock
    kFinished,  // result.json exists
    kLost,      // a supervisor started but died without a result
  };
  State state = State::kNew;
  int pid = 0;                    // the supervisor's, when running
  std::optional<JobResult> result;  // when finished
};
const char* Name(JobProbe::State state);

// How the job stands, from outside; cheap (one flock attempt, one stat).
JobProbe ProbeJob(const std::string& job_dir);

// Starts a supervisor for `job_dir` in its own session, detached from the
// caller, and returns at once. Idempotent: when one runs or has finished,
// starts nothing and says so. `self` is the sluss-run binary to exec (it is
// run as `self supervise JOBDIR`).
core::Result<JobProbe> StartDetached(const std::string& self, const std::string& job_dir);

// Asks the job's supervisor to cancel the job: SIGTERM to the supervisor
// (TERM to the job, KILL after the grace time), or with `now` SIGUSR1 (KILL
// at once).
core::Result<void> CancelJob(const std::string& job_dir, bool now = false);

// For a lost job: kills and deletes its container if the runtime still has
// one, unmounts its output file system, and writes a result saying the
// supervisor was lost, or, when its log or a full file system says so, that
// its result could not be written (No space left on device). The result is
// returned even when result.json cannot be written. Runs under the job's
// lock; an error only when that lock is held or cannot be taken.
core::Result<JobResult> CleanUpLost(const std::string& job_dir);

// Kills the job's supervisor (SIGKILL), which did not answer a stop; the
// job is then lost, and CleanUpLost stops its container.
core::Result<void> KillSupervisor(const std::string& job_dir);

// Writes `spec` to `job_dir`/spec.json atomically.
core::Result<void> WriteSpec(const std::string& job_dir, const RunSpec& spec);

// Writes `result` to `job_dir`/result.json atomically (temporary file,
// fsync, rename, fsync of the directory).
core::Result<void> WriteResult(const std::string& job_dir, const JobResult& result);

}  // namespace sluss::sandbox
