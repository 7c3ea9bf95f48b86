// Given this state, expect these decisions.

#include "scheduler/planner.h"

#include <catch2/catch.hpp>

namespace sluss::scheduler {
namespace {

using core::JobId;
using core::StatusCode;
using namespace std::chrono_literals;

const core::TimePoint kNow = core::FromUnixMillis(1'800'000'000'000);

core::Resources Res(int gpus, std::int64_t cpus, std::int64_t mem_gib,
                    std::chrono::seconds time = 1h) {
  return {gpus, cpus * 1000, mem_gib << 30, time, 0};
}

PendingJob Job(std::int64_t id, std::string project, core::Resources r = Res(0, 1, 1),
               std::vector<JobId> needs = {}) {
  PendingJob j;
  j.id = JobId{id};
  j.project = std::move(project);
  j.user = "alice";
  j.action = "a" + std::to_string(id);
  j.status = StatusCode::kWaitingOnResources;
  j.request = r;
  j.needs = std::move(needs);
  j.submitted_at = kNow - std::chrono::seconds(1000 - id);
  return j;
}

NodeState Node(std::string name, std::int64_t cpus, std::int64_t mem_gib, int gpus = 0) {
  NodeState n{std::move(name), Res(0, cpus, mem_gib), {}, {}, true};
  for (int i = 0; i < gpus; ++i) n.gpus.push_back(i);
  return n;
}

const Wait* WaitOf(const Decisions& d, std::int64_t id) {
  for (const auto& w : d.waits)
    if (w.job.value == id) return &w;
  return nullptr;
}

std::vector<std::int64_t> Started(const Decisions& d) {
  std::vector<std::int64_t> ids;
  for (const auto& s : d.starts) ids.push_back(s.job.value);
  return ids;
}

TEST_CASE("a job waits on its needs by name, and fails when one failed") {
  Snapshot s;
  s.nodes = {Node("n1", 8, 32)};
  s.pending = {Job(2, "p1", Res(0, 1, 1), {JobId{1}}), Job(4, "p1", Res(0, 1, 1), {JobId{3}})};
  s.needs[JobId{1}] = {StatusCode::kExecuting, "extract"};
  s.needs[JobId{3}] = {StatusCode::kOomKilled, "train"};
  Decisions d = Plan(s, kNow);
  CHECK(d.starts.empty());
  REQUIRE(WaitOf(d, 2));
  CHECK(WaitOf(d, 2)->code == StatusCode::kWaitingOnDependencies);
  CHECK(WaitOf(d, 2)->reason == "waiting_on_dependencies (extract)");
  REQUIRE(d.dependency_failed.size() == 1);
  CHECK(d.dependency_failed[0].job == JobId{4});
  CHECK(d.dependency_failed[0].reason == "dependency_failed: train oom_killed");
}

TEST_CASE("a succeeded or cached need lets the job start") {
  Snapshot s;
  s.nodes = {Node("n1", 8, 32)};
  s.pending = {Job(3, "p1", Res(0, 1, 1), {JobId{1}, JobId{2}})};
  s.needs[JobId{1}] = {StatusCode::kSucceeded, "a"};
  s.needs[JobId{2}] = {StatusCode::kCached, "b"};
  CHECK(Started(Plan(s, kNow)) == std::vector<std::int64_t>{3});
}

TEST_CASE("every admissible job starts in one cycle") {
  Snapshot s;
  s.nodes = {Node("n1", 100, 400)};
  for (int i = 1; i <= 100; ++i) s.pending.push_back(Job(i, "p" + std::to_string(i % 3)));
  s.pending.push_back(Job(101, "p1"));
  Decisions d = Plan(s, kNow);
  CHECK(d.starts.size() == 100);
  REQUIRE(WaitOf(d, 101));
  CHECK(WaitOf(d, 101)->reason ==
        "waiting_on_resources: needs 1 CPUs, largest free on a node is 0; reserved on n1 from "
        "2027-01-15T09:00Z");
}

TEST_CASE("a project at its GPU quota waits, naming the quota, others go on") {
  Snapshot s;
  s.nodes = {Node("n1", 64, 256, 8)};
  s.projects["p1"].quota.max.gpus = 4;
  s.running = {{JobId{1}, "p1", "alice", "n1", Res(4, 1, 1), {0, 1, 2, 3}, kNow - 10min}};
  s.pending = {Job(2, "p1", Res(1, 1, 1)), Job(3, "p1", Res(0, 1, 1)), Job(4, "p2", Res(2, 1, 1))};
  Decisions d = Plan(s, kNow);
  REQUIRE(WaitOf(d, 2));
  CHECK(WaitOf(d, 2)->code == StatusCode::kWaitingOnQuota);
  CHECK(WaitOf(d, 2)->reason == "waiting_on_quota: project p1 uses 4 of 4 GPUs, job needs 1");
  auto started = Started(d);
  std::sort(started.begin(), started.end());
  CHECK(started == std::vector<std::int64_t>{3, 4});
  for (const auto& st : d.starts)
    if (st.job == JobId{4}) CHECK(st.gpus == std::vector<int>{4, 5});
}

TEST_CASE("a project whose disk reached max.disk waits, naming the numbers, others go on") {
  Snapshot s;
  s.nodes = {Node("n1", 64, 256)};
  s.projects["p1"].quota.max.disk_bytes = std::int64_t{10} << 30;
  s.projects["p1"].disk = {std::int64_t{9} << 30, std::int64_t{1} << 30};
  s.projects["p2"].quota.max.disk_bytes = std::int64_t{10} << 30;
  s.projects["p2"].disk = {(std::int64_t{10} << 30) - 1, 0};
  s.pending = {Job(1, "p1"), Job(2, "p2")};
  Decisions d = Plan(s, kNow);
  REQUIRE(WaitOf(d, 1));
  CHECK(WaitOf(d, 1)->code == StatusCode::kWaitingOnQuota);
  CHECK(WaitOf(d, 1)->reason ==
        "waiting_on_quota: project p1 holds 10G of disk (outputs 9G, workspaces 1G), its limit "
        "is 10G (max.disk)");
  CHECK(Started(d) == std::vector<std::int64_t>{2});  // under its limit, by one byte
}

TEST_CASE("quota reasons name the limit: per job, running jobs, per person") {
  Snapshot s;
  s.nodes = {Node("n1", 64, 256, 8)};
  auto& q = s.projects["p1"].quota;
  q.per_job.max_gpus = 2;
  q.per_job.max_time = 2h;
  q.per_user.max_running_jobs = 1;
  s.running = {{JobId{1}, "p1", "alice", "n1", Res(0, 1, 1), {}, kNow}};
  s.pending = {Job(2, "p1", Res(4, 1, 1)), Job(3, "p1", Res(0, 1, 1, 5h)), Job(4, "p1")};
  Decisions d = Plan(s, kNow);
  CHECK(WaitOf(d, 2)->reason == "waiting_on_quota: job asks for 4 GPUs, the per-job limit of project p1 is 2");
  CHECK(WaitOf(d, 3)->reason == "waiting_on_quota: job asks for 5h, the per-job time limit of project p1 is 2h");
  CHECK(WaitOf(d, 4)->reason == "waiting_on_quota: alice runs 1 of 1 jobs allowed per person in project p1");
}

TEST_CASE("GPU-hour budget: a job starts only if it may finish within it") {
  Snapshot s;
  s.nodes = {Node("n1", 64, 256, 8)};
  auto& p = s.projects["p1"];
  p.quota.budget = core::Quota::Budget{500, "month"};
  p.gpu_hours_spent = 496.5;
  s.running = {{JobId{1}, "p1", "alice", "n1", Res(1, 1, 1, 2h), {0}, kNow}};  // reserves 2 h
  s.pending = {Job(2, "p1", Res(1, 1, 1, 2h)), Job(3, "p1", Res(1, 1, 1, 1h)), Job(4, "p1")};
  Decisions d = Plan(s, kNow);
  REQUIRE(WaitOf(d, 2));
  CHECK(WaitOf(d, 2)->reason ==
        "waiting_on_quota: GPU-hour budget 500.0 h per month, 498.5 h used, job needs 2.0 h");
  auto started = Started(d);
  std::sort(started.begin(), started.end());
  CHECK(started == std::vector<std::int64_t>{3, 4});  // 1 h fits; CPU-only jobs are not charged
}

TEST_CASE("too few free GPUs on any node says how many there are") {
  Snapshot s;
  s.nodes = {Node("n1", 64, 256, 2), Node("n2", 64, 256, 2)};
  s.running = {{JobId{1}, "p1", "bob", "n1", Res(1, 1, 1), {0}, kNow},
               {JobId{2}, "p1", "bob", "n2", Res(1, 1, 1), {1}, kNow}};
  s.pending = {Job(3, "p2", Res(2, 1, 1))};
  Decisions d = Plan(s, kNow);
  REQUIRE(WaitOf(d, 3));
  CHECK(WaitOf(d, 3)->reason.starts_with(
      "waiting_on_resources: needs 2 GPUs, largest free on a node is 1; reserved on n1 from "));
}

TEST_CASE("GPUs: best fit keeps a node's free GPUs together") {
  Snapshot s;
  s.nodes = {Node("big", 64, 256, 4), Node("small", 64, 256, 2)};
  s.running = {{JobId{1}, "p1", "bob", "small", Res(1, 1, 1), {0}, kNow}};
  s.pending = {Job(2, "p1", Res(1, 1, 1))};
  Decisions d = Plan(s, kNow);
  REQUIRE(d.starts.size() == 1);
  CHECK(d.starts[0].node == "small");
  CHECK(d.starts[0].gpus == std::vector<int>{1});
}

TEST_CASE("fair share: the project that runs less goes first") {
  Snapshot s;
  s.nodes = {Node("n1", 4, 64)};
  s.projects["heavy"].usage = 1000;
  for (int i = 1; i <= 4; ++i) s.pending.push_back(Job(i, "heavy"));
  for (int i = 5; i <= 8; ++i) s.pending.push_back(Job(i, "light"));
  auto started = Started(Plan(s, kNow));
  std::sort(started.begin(), started.end());
  CHECK(started == std::vector<std::int64_t>{5, 6, 7, 8});

  // Equal usage: they alternate.
  s.projects["heavy"].usage = 0;
  started = Started(Plan(s, kNow));
  std::sort(started.begin(), started.end());
  CHECK(started == std::vector<std::int64_t>{1, 2, 5, 6});
}

TEST_CASE("fair share weight: a project of weight 3 gets three times the share") {
  Snapshot s;
  s.nodes = {Node("n1", 4, 64)};
  s.projects["a"].quota.fairshare_weight = 3;
  for (int i = 1; i <= 4; ++i) s.pending.push_back(Job(i, "a"));
  for (int i = 5; i <= 8; ++i) s.pending.push_back(Job(i, "b"));
  auto started = Started(Plan(s, kNow));
  std::sort(started.begin(), started.end());
  CHECK(started == std::vector<std::int64_t>{1, 2, 3, 5});
}

TEST_CASE("backfill: a short job starts before a blocked big one, a long one does not") {
  Snapshot s;
  s.nodes = {Node("n1", 4, 64)};
  s.running = {{JobId{1}, "p1", "bob", "n1", Res(0, 2, 1, 1h), {}, kNow}};
  s.pending = {Job(2, "p1", Res(0, 4, 1, 1h)),    // first in order, needs the whole node
               Job(3, "p1", Res(0, 2, 1, 2h)),    // would still run at the reservation
               Job(4, "p1", Res(0, 2, 1, 30min))};  // ends before it
  Decisions d = Plan(s, kNow);
  CHECK(Started(d) == std::vector<std::int64_t>{4});
  CHECK(WaitOf(d, 2)->code == StatusCode::kWaitingOnResources);
  CHECK(WaitOf(d, 3)->code == StatusCode::kWaitingOnResources);
}

TEST_CASE("held jobs get no decision, a paused queue starts nothing and rewrites no reason that holds") {
  Snapshot s;
  s.nodes = {Node("n1", 4, 64)};
  s.pending = {Job(1, "p1"), Job(2, "p1"), Job(3, "p1"), Job(4, "p1")};
  s.pending[0].status = StatusCode::kHeld;
  s.pending[1].reason = "";  // never planned
  s.pending[2].status = StatusCode::kWaitingOnResources;
  s.pending[2].reason = "waiting_on_resources: needs 8 CPUs, largest free on a node is 4";
  s.pending[3].status = StatusCode::kWaitingOnDependencies;  // its needs are done now
  s.pending[3].reason = "waiting_on_dependencies (extract)";
  s.paused = true;
  Decisions d = Plan(s, kNow);
  CHECK(d.starts.empty());
  CHECK_FALSE(WaitOf(d, 1));
  REQUIRE(WaitOf(d, 2));
  CHECK(WaitOf(d, 2)->code == StatusCode::kPaused);
  // The pause is recorded once, as the queue's setting: not on each job.
  CHECK_FALSE(WaitOf(d, 3));
  REQUIRE(WaitOf(d, 4));
  CHECK(WaitOf(d, 4)->reason == "paused: an admin paused the queue");
}

TEST_CASE("a paused project waits with its reason, other projects go on") {
  Snapshot s;
  s.nodes = {Node("n1", 4, 64)};
  s.pending = {Job(1, "p1"), Job(2, "p2")};
  s.projects["p1"].paused = true;
  s.projects["p1"].paused_reason = "permit under review";
  s.projects["p2"];
  Decisions d = Plan(s, kNow);
  CHECK(Started(d) == std::vector<std::int64_t>{2});
  REQUIRE(WaitOf(d, 1));
  CHECK(WaitOf(d, 1)->code == StatusCode::kPaused);
  CHECK(WaitOf(d, 1)->reason == "paused: an admin paused project p1 (permit under review)");
}

TEST_CASE("within a project, higher priority first, then age, fair share still comes first") {
  Snapshot s;
  s.nodes = {Node("n1", 1, 64)};  // one job at a time
  s.pending = {Job(1, "p1"), Job(2, "p1"), Job(3, "p1")};
  s.pending[2].priority = 10;   // the youngest, but urgent
  s.pending[0].priority = -5;   // the oldest, but may wait
  Decisions d = Plan(s, kNow);
  CHECK(Started(d) == std::vector<std::int64_t>{3});
  s.pending.erase(s.pending.begin() + 2);
  d = Plan(s, kNow);
  CHECK(Started(d) == std::vector<std::int64_t>{2});

  // A project with less usage goes before another's high priority.
  Snapshot f;
  f.nodes = {Node("n1", 1, 64)};
  f.pending = {Job(1, "p1"), Job(2, "p2")};
  f.pending[0].priority = 100;
  f.projects["p1"].usage = 50;
  f.projects["p2"].usage = 0;
  d = Plan(f, kNow);
  CHECK(Started(d) == std::vector<std::int64_t>{2});
}

TEST_CASE("a drained node gets nothing, a retry waits out its backoff") {
  Snapshot s;
  s.nodes = {Node("n1", 4, 64)};
  s.nodes[0].schedulable = false;
  s.pending = {Job(1, "p1")};
  CHECK(Plan(s, kNow).starts.empty());
  s.nodes[0].schedulable = true;
  s.pending[0].eligible_at = kNow + 30s;
  Decisions d = Plan(s, kNow);
  CHECK(d.starts.empty());
  CHECK(WaitOf(d, 1)->reason.starts_with("waiting_on_resources: retry backoff until "));
  CHECK(Started(Plan(s, kNow + 31s)) == std::vector<std::int64_t>{1});
}

TEST_CASE("pools: a job too big for one pool goes to one it fits") {
  Snapshot s;
  s.nodes = {Node("small", 1, 4), Node("big", 4, 8)};
  s.pending = {Job(1, "p1", Res(0, 1, 1)), Job(2, "p1", Res(0, 3, 6))};
  Decisions d = Plan(s, kNow);
  REQUIRE(d.starts.size() == 2);
  CHECK(d.starts[0].node == "small");
  CHECK(d.starts[1].node == "big");
}

TEST_CASE("pools: a job no pool could ever hold waits, naming each pool's size") {
  Snapshot s;
  // Admission allows up to the largest of each (4 CPUs, 8G): this one fits neither.
  s.nodes = {Node("a", 1, 8), Node("b", 4, 2)};
  s.pending = {Job(1, "p1", Res(0, 2, 4)), Job(2, "p1", Res(0, 1, 1))};
  Decisions d = Plan(s, kNow);
  CHECK(Started(d) == std::vector<std::int64_t>{2});
  REQUIRE(WaitOf(d, 1));
  CHECK(WaitOf(d, 1)->code == StatusCode::kWaitingOnResources);
  CHECK(WaitOf(d, 1)->reason ==
        "waiting_on_resources: needs 2 CPUs, 4G memory and 0 GPUs; no node pool for project p1 "
        "is that big (a has 1 CPUs, 8G, 0 GPUs; b has 4 CPUs, 2G, 0 GPUs)");
}

TEST_CASE("pools: a pool takes only its projects, a project no pool takes waits, saying so") {
  Snapshot s;
  s.nodes = {Node("study-only", 8, 32), Node("shared", 1, 2)};
  s.nodes[0].projects = {"study"};
  s.nodes[1].projects = {"study", "other"};
  s.pending = {Job(1, "other", Res(0, 2, 1)), Job(2, "study", Res(0, 2, 1)),
               Job(3, "stranger", Res(0, 1, 1)), Job(4, "other", Res(0, 1, 1))};
  Decisions d = Plan(s, kNow);
  CHECK(Started(d) == std::vector<std::int64_t>{4, 2});  // fair share: other, then study
  for (const auto& st : d.starts) CHECK(st.node == (st.job.value == 2 ? "study-only" : "shared"));
  // Room on study-only, but not for project other: its own pool is too small.
  CHECK(WaitOf(d, 1)->reason ==
        "waiting_on_resources: needs 2 CPUs, 1G memory and 0 GPUs; no node pool for project other "
        "is that big (shared has 1 CPUs, 2G, 0 GPUs)");
  CHECK(WaitOf(d, 3)->reason ==
        "waiting_on_resources: no node pool takes project stranger (a pool's projects: in "
        "slussd's config)");
}

TEST_CASE("pools: a full pool's reason counts only the pools of the job's project") {
  Snapshot s;
  s.nodes = {Node("mine", 2, 4), Node("theirs", 16, 64)};
  s.nodes[0].projects = {"p1"};
  s.nodes[1].projects = {"p2"};
  s.running = {RunningJob{JobId{9}, "p1", "alice", "mine", Res(0, 2, 1), {}, kNow - 10min}};
  s.pending = {Job(1, "p1", Res(0, 1, 1))};
  Decisions d = Plan(s, kNow);
  CHECK(d.starts.empty());
  CHECK(WaitOf(d, 1)->reason.starts_with(
      "waiting_on_resources: needs 1 CPUs, largest free on a node is 0; reserved on mine "));
  s.nodes[0].schedulable = false;
  CHECK(WaitOf(Plan(s, kNow), 1)->reason ==
        "waiting_on_resources: every node pool that takes project p1 is drained or down (mine)");
}

}  // namespace
}  // namespace sluss::scheduler
