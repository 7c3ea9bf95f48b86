#pragma once

// The job state machine: a coarse state, and a status code that says why.
// All legal transitions are in one table (job_state.cc); the store refuses
// any other with an Error, so no code path can write an impossible history.

#include <optional>
#include <string_view>

#include "core/error.h"

namespace sluss::core {

enum class JobState { kPending, kRunning, kSucceeded, kFailed, kCancelled };

enum class StatusCode {
  // pending
  kWaitingOnDependencies,
  kWaitingOnQuota,
  kWaitingOnResources,
  kHeld,
  kPaused,
  // running
  kPreparing,
  kExecuting,
  kFinalizing,
  // succeeded
  kSucceeded,
  kCached,
  // failed
  kNonzeroExit,
  kOomKilled,
  kTimedOut,
  kOutputLimit,
  kWorkspaceLimit,  // the commit is larger than a job's workspace may be
  kDependencyFailed,
  kMissingOutputs,
  kPermitInvalid,
  kNodeLost,
  // The job ran, but its result could not be written: the job file system
  // was full. Not node_lost: a retry on the same full disk would lose its
  // outputs again, so `retries` never reruns it; `sluss job retry` does,
  // once space is freed.
  kDiskFull,
  kInternalError,
  // cancelled
  kCancelledByUser,
  kKilledByAdmin,
  kPermitRevoked,
};

inline constexpr int kStatusCodeCount =
    static_cast<int>(StatusCode::kPermitRevoked) + 1;

JobState StateOf(StatusCode code);
bool IsTerminal(JobState state);
inline bool IsTerminal(StatusCode code) { return IsTerminal(StateOf(code)); }

std::string_view Name(JobState state);
std::string_view Name(StatusCode code);
std::optional<JobState> ParseJobState(std::string_view name);
std::optional<StatusCode> ParseStatusCode(std::string_view name);

// Whether a job may be created in this status (pending codes, or a job that
// is decided at submit: cached, or failed for an invalid permit).
bool IsValidInitialStatus(StatusCode code);

// Ok when `from` -> `to` is in the table. A pending job may change its
// pending reason; a terminal job never changes except failed or cancelled ->
// pending, which is a retry and starts a new attempt.
Result<void> CheckTransition(StatusCode from, StatusCode to);

// True for the transitions that start a new attempt (retries).
bool IsRetry(StatusCode from, StatusCode to);

}  // namespace sluss::core
