#include "core/job_state.h"

#include <catch2/catch.hpp>

using namespace sluss::core;
using S = StatusCode;

TEST_CASE("every status code belongs to one coarse state and has a name") {
  for (int i = 0; i < kStatusCodeCount; ++i) {
    auto code = static_cast<StatusCode>(i);
    CHECK(ParseStatusCode(Name(code)) == code);
  }
  CHECK(StateOf(S::kWaitingOnQuota) == JobState::kPending);
  CHECK(StateOf(S::kExecuting) == JobState::kRunning);
  CHECK(StateOf(S::kCached) == JobState::kSucceeded);
  CHECK(StateOf(S::kOomKilled) == JobState::kFailed);
  CHECK(StateOf(S::kPermitRevoked) == JobState::kCancelled);
  CHECK(StateOf(S::kDiskFull) == JobState::kFailed);
  CHECK(Name(S::kDiskFull) == "disk_full");
  CHECK(!ParseStatusCode("bogus"));
  CHECK(ParseJobState("running") == JobState::kRunning);
}

TEST_CASE("a job runs forward through its phases") {
  CHECK(CheckTransition(S::kWaitingOnDependencies, S::kWaitingOnQuota));
  CHECK(CheckTransition(S::kWaitingOnQuota, S::kWaitingOnQuota));
  CHECK(CheckTransition(S::kWaitingOnResources, S::kPreparing));
  CHECK(CheckTransition(S::kPreparing, S::kExecuting));
  CHECK(CheckTransition(S::kExecuting, S::kFinalizing));
  CHECK(CheckTransition(S::kFinalizing, S::kSucceeded));
  CHECK(CheckTransition(S::kExecuting, S::kOomKilled));
  CHECK(CheckTransition(S::kFinalizing, S::kDiskFull));
  CHECK(CheckTransition(S::kExecuting, S::kPermitRevoked));
  CHECK(CheckTransition(S::kWaitingOnDependencies, S::kDependencyFailed));
}

TEST_CASE("illegal transitions are errors that name both ends") {
  auto r = CheckTransition(S::kCached, S::kPreparing);
  REQUIRE(!r);
  CHECK(r.error().code == ErrorCode::kFailedPrecondition);
  CHECK(r.error().message ==
        "a job cannot go from succeeded/cached to running/preparing");
  CHECK(!CheckTransition(S::kSucceeded, S::kWaitingOnQuota));  // no rerun
  CHECK(!CheckTransition(S::kExecuting, S::kPreparing));       // no going back
  CHECK(!CheckTransition(S::kWaitingOnQuota, S::kExecuting));  // skip prepare
  CHECK(!CheckTransition(S::kWaitingOnQuota, S::kSucceeded));
  CHECK(!CheckTransition(S::kPreparing, S::kSucceeded));
  CHECK(!CheckTransition(S::kNonzeroExit, S::kPreparing));
  CHECK(!CheckTransition(S::kPreparing, S::kDependencyFailed));
  CHECK(!CheckTransition(S::kNonzeroExit, S::kOomKilled));
}

TEST_CASE("failed and cancelled jobs come back only as a retry") {
  CHECK(CheckTransition(S::kNonzeroExit, S::kWaitingOnResources));
  CHECK(IsRetry(S::kNonzeroExit, S::kWaitingOnResources));
  CHECK(CheckTransition(S::kCancelledByUser, S::kHeld));
  CHECK(!IsRetry(S::kWaitingOnQuota, S::kWaitingOnResources));
  CHECK(!CheckTransition(S::kNonzeroExit, S::kPaused));
}

TEST_CASE("jobs are created pending, cached or refused by permit") {
  CHECK(IsValidInitialStatus(S::kWaitingOnDependencies));
  CHECK(IsValidInitialStatus(S::kCached));
  CHECK(IsValidInitialStatus(S::kPermitInvalid));
  CHECK(!IsValidInitialStatus(S::kExecuting));
  CHECK(!IsValidInitialStatus(S::kSucceeded));
}
