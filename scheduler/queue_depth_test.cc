// Given a deep queue, a bounded cycle plans the first jobs in line of each
// project and every job that waits for something else.

#include "scheduler/queue_depth.h"

#include <algorithm>

#include <catch2/catch.hpp>

namespace sluss::scheduler {
namespace {

using core::JobId;
using core::StatusCode;

const core::TimePoint kNow = core::FromUnixMillis(1'800'000'000'000);

PendingJob Job(std::int64_t id, std::string project, int age_s = 0) {
  PendingJob j;
  j.id = JobId{id};
  j.project = std::move(project);
  j.user = "alice";
  j.action = "a" + std::to_string(id);
  j.status = StatusCode::kWaitingOnResources;
  j.reason = "waiting_on_resources: needs 1 CPUs, largest free on a node is 0";
  j.submitted_at = kNow - std::chrono::seconds(age_s);
  return j;
}

std::vector<std::int64_t> Ids(const std::vector<PendingJob>& pending,
                              const std::vector<std::size_t>& at) {
  std::vector<std::int64_t> ids;
  for (std::size_t i : at) ids.push_back(pending[i].id.value);
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST_CASE("a bounded cycle plans the oldest jobs of each project, and all when few wait") {
  std::vector<PendingJob> pending;
  // p1: ids 1-6, older as the id grows; p2: ids 7-8.
  for (int i = 1; i <= 6; ++i) pending.push_back(Job(i, "p1", i));
  pending.push_back(Job(7, "p2", 1));
  pending.push_back(Job(8, "p2", 2));
  CHECK(Ids(pending, FirstInLine(pending, {}, 2, kNow)) == std::vector<std::int64_t>{5, 6, 7, 8});
  CHECK(FirstInLine(pending, {}, 8, kNow).size() == 8);
  CHECK(FirstInLine(pending, {}, 0, kNow).size() == 8);
  const auto at = FirstInLine(pending, {}, 2, kNow);
  CHECK(std::is_sorted(at.begin(), at.end()));
}

TEST_CASE("a bounded cycle goes by priority before age, as the planner does") {
  std::vector<PendingJob> pending;
  for (int i = 1; i <= 5; ++i) pending.push_back(Job(i, "p1", 100 - i));
  pending[4].priority = 10;  // the youngest, first by priority
  CHECK(Ids(pending, FirstInLine(pending, {}, 2, kNow)) == std::vector<std::int64_t>{1, 5});
}

TEST_CASE("a bounded cycle plans every job that waits for something other than room") {
  std::vector<PendingJob> pending;
  for (int i = 1; i <= 4; ++i) pending.push_back(Job(i, "p1", 100 - i));
  pending.push_back(Job(5, "p1"));
  pending.back().needs = {JobId{100}};  // still running: its reason follows it
  pending.back().status = StatusCode::kWaitingOnDependencies;
  pending.push_back(Job(6, "p1"));
  pending.back().status = StatusCode::kHeld;
  pending.push_back(Job(7, "p1"));
  pending.back().eligible_at = kNow + std::chrono::minutes(1);  // retry backoff
  pending.push_back(Job(8, "p1"));
  pending.back().reason.clear();  // never planned yet
  pending.push_back(Job(9, "p1"));
  pending.back().needs = {JobId{101}};  // its need failed: it must fail now
  std::map<JobId, NeedStatus> needs{{JobId{100}, {StatusCode::kExecuting, "prep"}},
                                    {JobId{101}, {StatusCode::kNonzeroExit, "prep2"}},
                                    {JobId{102}, {StatusCode::kSucceeded, "prep3"}}};
  pending.push_back(Job(10, "p1"));
  pending.back().needs = {JobId{102}};  // done: in line like any other
  CHECK(Ids(pending, FirstInLine(pending, needs, 1, kNow)) ==
        std::vector<std::int64_t>{1, 5, 6, 7, 8, 9});
}

}  // namespace
}  // namespace sluss::scheduler
