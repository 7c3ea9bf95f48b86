// SIGKILL in the middle of writing: the database stays consistent, no run is
// half-written, and nothing that was committed is lost.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "store/store.h"
#include "tests/support/temp_dir.h"

using namespace sluss;
using core::StatusCode;

namespace {

constexpr int kJobsPerRun = 200;

core::NewRun BigRun() {
  core::NewRun r;
  r.project = "p1";
  r.trigger = "push";
  for (int i = 0; i < kJobsPerRun; ++i) {
    core::NewJob j{"a" + std::to_string(i), StatusCode::kWaitingOnResources,
                   "", R"({"spec": "padding padding padding padding"})", "", {}};
    if (i > 0) j.needs = {"a" + std::to_string(i / 2)};
    r.jobs.push_back(j);
  }
  return r;
}

// The child: writes runs and transitions forever, reporting each committed
// run id on `fd` after its commit returned.
[[noreturn]] void Writer(const std::string& path, int fd) {
  auto s = store::SqliteStore::Open(path);
  if (!s) _exit(2);
  core::NewRun run = BigRun();
  for (int i = 0; i < 100000; ++i) {
    auto r = (*s)->CreateRun(run, core::FromUnixMillis(i));
    if (!r) _exit(3);
    auto jobs = (*s)->ListJobs(r->id);
    if (!jobs) _exit(4);
    // Move a few jobs too, so kills also land inside transitions.
    for (int k = 0; k < 5; ++k) {
      if (!(*s)->TransitionJob((*jobs)[k].id, StatusCode::kWaitingOnResources,
                               StatusCode::kPreparing, "", core::FromUnixMillis(i))) {
        _exit(5);
      }
    }
    std::int64_t id = r->id.value;
    if (write(fd, &id, sizeof id) != sizeof id) _exit(6);
  }
  _exit(0);
}

}  // namespace

TEST_CASE("SIGKILL while writing loses no committed run and leaves no half run") {
  testing::TempDir dir;
  std::string path = dir / "state.db";
  {
    auto s = store::SqliteStore::Open(path);
    REQUIRE(s);
    REQUIRE((*s)->CreateProject({"p1", "", "", {}, {}, {}}));
  }
  std::mt19937 rng(std::random_device{}());
  std::set<std::int64_t> committed;
  for (int round = 0; round < 8; ++round) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      Writer(path, fds[1]);
    }
    close(fds[1]);
    // Let it commit a few runs, then kill it at a random moment.
    int wanted = 1 + static_cast<int>(rng() % 4);
    for (int got = 0; got < wanted;) {
      std::int64_t id;
      ssize_t n = read(fds[0], &id, sizeof id);
      REQUIRE(n == sizeof id);
      committed.insert(id);
      ++got;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20000));
    kill(pid, SIGKILL);
    std::int64_t id;
    while (read(fds[0], &id, sizeof id) == sizeof id) committed.insert(id);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);

    auto s = store::SqliteStore::Open(path);
    REQUIRE(s);
    REQUIRE((*s)->CheckIntegrity());
    auto runs = (*s)->ListRuns({.limit = 1000});
    REQUIRE(runs);
    std::set<std::int64_t> present;
    for (const auto& r : *runs) {
      present.insert(r.id.value);
      auto jobs = (*s)->ListJobs(r.id);
      REQUIRE(jobs);
      INFO("run " << r.id.value);
      CHECK(jobs->size() == kJobsPerRun);
      for (const auto& j : *jobs) {
        auto events = (*s)->ListJobEvents(j.id);
        REQUIRE(events);
        // One creating event, plus one per transition made.
        CHECK(events->size() == (j.status == StatusCode::kPreparing ? 2u : 1u));
      }
    }
    for (std::int64_t c : committed) {
      INFO("committed run " << c);
      CHECK(present.count(c) == 1);
    }
  }
}
