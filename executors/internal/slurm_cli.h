#pragma once

// What the Slurm executor says to Slurm's commands and what it reads back:
// pure functions, unit-tested on output recorded from Slurm 22.05. No
// process is run here (SlurmRunner does that).

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/executor.h"
#include "core/job_state.h"

namespace sluss::executors::internal {

// The Slurm job name of one attempt: `<prefix>-<job>-<attempt>-<key8>`.
// The prefix is the installation's (slussd derives it from its state
// directory), so two installations sharing one cluster never take each
// other's jobs; the key's first 8 digits keep a reused job id (a restored
// backup) from taking an older job's Slurm job.
std::string JobName(const std::string& prefix, core::JobId job, int attempt,
                    const std::string& attempt_key);
// Whether `name` is one of this installation's (JobName with `prefix`).
bool IsOurs(const std::string& prefix, std::string_view name);

// One line of `squeue -o %i|%j|%T|%r|%N|%P` or `sacct -P -o
// JobID,JobName,State,Reason,NodeList,Partition`.
struct SlurmJob {
  std::string id;  // "1234"
  std::string name;
  std::string state;   // "PENDING", "CANCELLED" (sacct's "CANCELLED by 0" cut)
  std::string reason;  // "Resources", "None"
  std::string nodes;   // "" while pending
  std::string partition;
};
inline constexpr const char* kSqueueFormat = "%i|%j|%T|%r|%N|%P";
inline constexpr const char* kSacctFields = "JobID,JobName,State,Reason,NodeList,Partition";
// Lines that are not five or six fields with a numeric id (a warning Slurm
// printed, a job step) are skipped.
std::vector<SlurmJob> ParseJobList(std::string_view text);

// The job id `sbatch --parsable` printed ("1234" or "1234;cluster"); empty
// when there is none.
std::string ParseSbatchId(std::string_view text);

// A pending job's reason for people: "waiting in Slurm: Resources
// (partition debug)"; a held job says who can release it.
std::string PendingText(const SlurmJob& job);

// Whether sbatch's complaint says the job can never be taken as asked (an
// invalid partition, account or request, a size no node has), rather than
// Slurm being away or busy for now.
bool SbatchRefused(std::string_view text);

// Where a Slurm job state puts the attempt.
enum class Phase { kPending, kRunning, kEnded };
Phase PhaseOf(std::string_view state);

// How an attempt ended when Slurm says it ended and sluss-run left no
// result.json: TIMEOUT/DEADLINE -> timed_out, OUT_OF_MEMORY -> oom_killed,
// NODE_FAIL/BOOT_FAIL/PREEMPTED -> node_lost (sluss retries),
// CANCELLED -> cancelled (by sluss: `cancel_asked`) or killed_by_admin,
// the rest (FAILED, COMPLETED: sluss-run did not run or could not write
// its result) -> internal_error. The message names the Slurm job.
core::JobOutcome OutcomeOfSlurm(const SlurmJob& job,
                                std::optional<core::Executor::CancelMode> cancel_asked);

// Whether a Slurm state says the node failed (its nodes are excluded from
// the job's next attempt).
bool NodeFailed(std::string_view state);

// What sbatch gets besides the script.
struct SubmitSettings {
  std::string partition, account, qos;
  std::int64_t memory_overhead_bytes = std::int64_t{128} << 20;  // sluss-run, runc
  int kill_grace_seconds = 10;
};
// `sbatch --parsable --no-requeue ...` for one attempt whose directory is
// `dir` (with its batch script `dir`/job.sbatch). --time is the attempt's
// wall clock plus its kill grace plus a minute, in whole minutes, so that
// sluss-run's own limit ends the job (as timed_out, its outputs kept)
// before Slurm's does. `exclude`: nodes that failed earlier attempts.
std::vector<std::string> SbatchArgs(const SubmitSettings& s, const core::LaunchRequest& r,
                                    const std::string& name, const std::string& dir,
                                    const std::set<std::string>& exclude);
// The batch script: sluss-run in the foreground on the attempt's directory.
std::string BatchScript(const std::string& sluss_run, const std::string& dir);

// Slurm's --starttime for sacct: "2026-12-07T15:04:05" (UTC on the host
// clock: a minute's slack is on the caller).
std::string SacctTime(std::chrono::system_clock::time_point t);

// Quotes `s` for a POSIX shell.
std::string ShellQuote(std::string_view s);

}  // namespace sluss::executors::internal
