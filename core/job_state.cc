#include "core/job_state.h"

#include <array>
#include <bitset>
#include <initializer_list>

#include "core/strings.h"

namespace sluss::core {
namespace {

using Set = std::bitset<kStatusCodeCount>;

constexpr std::array<std::string_view, kStatusCodeCount> kCodeNames = {
    "waiting_on_dependencies", "waiting_on_quota", "waiting_on_resources",
    "held", "paused",
    "preparing", "executing", "finalizing",
    "succeeded", "cached",
    "nonzero_exit", "oom_killed", "timed_out", "output_limit", "workspace_limit",
    "dependency_failed", "missing_outputs", "permit_invalid", "node_lost",
    "disk_full", "internal_error",
    "cancelled_by_user", "killed_by_admin", "permit_revoked",
};

constexpr std::array<std::string_view, 5> kStateNames = {
    "pending", "running", "succeeded", "failed", "cancelled"};

Set Of(std::initializer_list<StatusCode> codes) {
  Set s;
  for (auto c : codes) s.set(static_cast<std::size_t>(c));
  return s;
}

Set InState(JobState state) {
  Set s;
  for (int i = 0; i < kStatusCodeCount; ++i) {
    if (StateOf(static_cast<StatusCode>(i)) == state) s.set(i);
  }
  return s;
}

struct Rule {
  Set from;
  Set to;
};

// The table. Read each row as "from any of these, to any of these".
const std::array<Rule, 10>& Rules() {
  using S = StatusCode;
  static const std::array<Rule, 10> rules = {{
      // A pending job's reason changes as the queue moves.
      {InState(JobState::kPending), InState(JobState::kPending)},
      // It starts, or is decided without running.
      {InState(JobState::kPending),
       Of({S::kPreparing, S::kDependencyFailed, S::kPermitInvalid,
           S::kWorkspaceLimit, S::kInternalError})},
      {InState(JobState::kPending), InState(JobState::kCancelled)},
      // Running moves forward only.
      {Of({S::kPreparing}), Of({S::kExecuting})},
      {Of({S::kExecuting}), Of({S::kFinalizing})},
      // The result may arrive after any running phase (a restarted daemon
      // reads result.json without having seen the phases in between).
      {Of({S::kExecuting, S::kFinalizing}), Of({S::kSucceeded})},
      {InState(JobState::kRunning),
       Of({S::kNonzeroExit, S::kOomKilled, S::kTimedOut, S::kOutputLimit,
           S::kMissingOutputs, S::kPermitInvalid, S::kNodeLost, S::kDiskFull,
           S::kInternalError})},
      {InState(JobState::kRunning), InState(JobState::kCancelled)},
      // Retries: a new attempt of a failed or cancelled job. A job that
      // failed because its permit is invalid only comes back by a new permit
      // and an explicit retry, which goes through the same check.
      {InState(JobState::kFailed), Of({S::kWaitingOnDependencies,
                                       S::kWaitingOnQuota,
                                       S::kWaitingOnResources, S::kHeld})},
      {InState(JobState::kCancelled), Of({S::kWaitingOnDependencies,
                                          S::kWaitingOnQuota,
                                          S::kWaitingOnResources, S::kHeld})},
  }};
  return rules;
}

}  // namespace

JobState StateOf(StatusCode code) {
  switch (code) {
    case StatusCode::kWaitingOnDependencies:
    case StatusCode::kWaitingOnQuota:
    case StatusCode::kWaitingOnResources:
    case StatusCode::kHeld:
    case StatusCode::kPaused:
      return JobState::kPending;
    case StatusCode::kPreparing:
    case StatusCode::kExecuting:
    case StatusCode::kFinalizing:
      return JobState::kRunning;
    case StatusCode::kSucceeded:
    case StatusCode::kCached:
      return JobState::kSucceeded;
    case StatusCode::kNonzeroExit:
    case StatusCode::kOomKilled:
    case StatusCode::kTimedOut:
    case StatusCode::kOutputLimit:
    case StatusCode::kWorkspaceLimit:
    case StatusCode::kDependencyFailed:
    case StatusCode::kMissingOutputs:
    case StatusCode::kPermitInvalid:
    case StatusCode::kNodeLost:
    case StatusCode::kDiskFull:
    case StatusCode::kInternalError:
      return JobState::kFailed;
    case StatusCode::kCancelledByUser:
    case StatusCode::kKilledByAdmin:
    case StatusCode::kPermitRevoked:
      return JobState::kCancelled;
  }
  return JobState::kFailed;
}

bool IsTerminal(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kFailed ||
         state == JobState::kCancelled;
}

std::string_view Name(JobState state) {
  return kStateNames[static_cast<std::size_t>(state)];
}

std::string_view Name(StatusCode code) {
  return kCodeNames[static_cast<std::size_t>(code)];
}

std::optional<JobState> ParseJobState(std::string_view name) {
  for (std::size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == name) return static_cast<JobState>(i);
  }
  return std::nullopt;
}

std::optional<StatusCode> ParseStatusCode(std::string_view name) {
  for (std::size_t i = 0; i < kCodeNames.size(); ++i) {
    if (kCodeNames[i] == name) return static_cast<StatusCode>(i);
  }
  return std::nullopt;
}

bool IsValidInitialStatus(StatusCode code) {
  return StateOf(code) == JobState::kPending || code == StatusCode::kCached ||
         code == StatusCode::kPermitInvalid;
}

Result<void> CheckTransition(StatusCode from, StatusCode to) {
  for (const Rule& r : Rules()) {
    if (r.from.test(static_cast<std::size_t>(from)) &&
        r.to.test(static_cast<std::size_t>(to))) {
      return {};
    }
  }
  return Fail(ErrorCode::kFailedPrecondition,
              StrCat("a job cannot go from ", Name(StateOf(from)), "/",
                     Name(from), " to ", Name(StateOf(to)), "/", Name(to)));
}

bool IsRetry(StatusCode from, StatusCode to) {
  JobState f = StateOf(from);
  return (f == JobState::kFailed || f == JobState::kCancelled) &&
         StateOf(to) == JobState::kPending;
}

}  // namespace sluss::core
