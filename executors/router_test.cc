// The router over fake executors: each attempt goes to its pool's, and an
// attempt whose pool left the config is adopted by its kind or ended, never
// retried (job directories in a temporary directory).

#include "executors/router.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "executors/local.h"
#include "tests/support/temp_dir.h"

namespace sluss::executors {
namespace {

class FakeExecutor final : public core::Executor {
 public:
  explicit FakeExecutor(std::string name) : name_(std::move(name)) {}
  core::Result<void> Launch(const core::LaunchRequest& r) override {
    launched.push_back(r.job.value);
    return {};
  }
  core::Result<void> Cancel(core::JobId job, int, CancelMode) override {
    cancelled.push_back(job.value);
    if (job.value == failing) return core::Fail(core::ErrorCode::kUnavailable, "scancel failed");
    return {};  // stops it if it runs here; nothing otherwise
  }
  std::vector<core::RunningAttempt> Reattach(const std::vector<core::RunningAttempt>& running) override {
    for (const auto& a : running) reattached.push_back(a.job.value);
    return {};
  }
  std::vector<std::string> LogFiles(core::JobId job, int, const std::string&,
                                    const std::string&) const override {
    if (job.value == known_elsewhere) return {name_ + ".log"};
    return {};
  }
  std::string name_;
  std::vector<std::int64_t> launched, cancelled, reattached;
  std::int64_t known_elsewhere = -1;
  std::int64_t failing = -1;
};

core::LaunchRequest On(std::int64_t job, std::string node) {
  core::LaunchRequest r;
  r.job = core::JobId{job};
  r.node = std::move(node);
  return r;
}

struct Fixture {
  testing::TempDir tmp;
  std::vector<std::pair<std::int64_t, core::JobOutcome>> ended;
  RouterExecutor router{tmp.path().string(),
                        {[](core::JobId, int) {},
                         [this](core::JobId j, int, const core::JobOutcome& o) {
                           ended.emplace_back(j.value, o);
                         }}};
  FakeExecutor* local = nullptr;
  FakeExecutor* slurm = nullptr;
  Fixture(bool with_slurm = true) {
    local = static_cast<FakeExecutor*>(router.Own(std::make_unique<FakeExecutor>("local")));
    router.Route("small", "local", local);
    router.Route("big", "local", local);
    if (with_slurm) {
      slurm = static_cast<FakeExecutor*>(router.Own(std::make_unique<FakeExecutor>("slurm")));
      router.Route("hpc", "slurm", slurm);
    }
  }
};

TEST_CASE("router: each attempt goes to its pool's executor, an unknown pool is refused") {
  Fixture f;
  REQUIRE(f.router.Launch(On(1, "small")));
  REQUIRE(f.router.Launch(On(2, "hpc")));
  REQUIRE(f.router.Launch(On(3, "big")));
  CHECK(f.local->launched == std::vector<std::int64_t>{1, 3});
  CHECK(f.slurm->launched == std::vector<std::int64_t>{2});
  auto bad = f.router.Launch(On(4, "gone"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "pool 'gone' is not in slussd's config (pools:)");
  // Cancel goes back to the one that runs it, and only to it; its error is the answer.
  f.slurm->failing = 2;
  REQUIRE_FALSE(f.router.Cancel(core::JobId{2}, 1, core::Executor::CancelMode::kGraceful));
  CHECK(f.slurm->cancelled == std::vector<std::int64_t>{2});
  CHECK(f.local->cancelled.empty());
}

TEST_CASE("router: once ended, cancel and logs ask every executor") {
  Fixture f;
  REQUIRE(f.router.Launch(On(7, "hpc")));
  f.router.PoolCallbacks().finished(core::JobId{7}, 1, {});
  REQUIRE(f.ended.size() == 1);  // forwarded to the engine
  f.slurm->known_elsewhere = 7;
  CHECK(f.router.LogFiles(core::JobId{7}, 1, "k", "stdout") == std::vector<std::string>{"slurm.log"});
  CHECK(f.router.Cancel(core::JobId{7}, 1, core::Executor::CancelMode::kNow));
  CHECK(f.local->cancelled == std::vector<std::int64_t>{7});
  CHECK(f.slurm->cancelled == std::vector<std::int64_t>{7});
}

TEST_CASE("router: after a restart, each attempt is re-attached by its pool's executor") {
  Fixture f;
  f.router.Reattach({{core::JobId{1}, 1, "k1", "small"}, {core::JobId{2}, 1, "k2", "hpc"},
                     {core::JobId{3}, 1, "k3", "big"}});
  CHECK(f.local->reattached == std::vector<std::int64_t>{1, 3});
  CHECK(f.slurm->reattached == std::vector<std::int64_t>{2});
  CHECK(f.ended.empty());
}

TEST_CASE("router: a removed pool's attempts are adopted by their kind, never doubled") {
  Fixture f;
  // Job 5 was submitted to Slurm (its intent is in its directory); job 6 ran here.
  const std::string dir5 = AttemptDir(f.tmp.path().string(), core::JobId{5}, 1, "k5");
  std::filesystem::create_directories(dir5);
  std::ofstream(dir5 + "/slurm.json") << "{}\n";
  f.router.Reattach({{core::JobId{5}, 1, "k5", "old-hpc"}, {core::JobId{6}, 1, "k6", "old-small"}});
  CHECK(f.slurm->reattached == std::vector<std::int64_t>{5});
  CHECK(f.local->reattached == std::vector<std::int64_t>{6});
  CHECK(f.ended.empty());
  // Cancel reaches the executor that adopted it.
  (void)f.router.Cancel(core::JobId{5}, 1, core::Executor::CancelMode::kGraceful);
  CHECK(f.slurm->cancelled == std::vector<std::int64_t>{5});
}

TEST_CASE("router: with no executor of its kind left, the attempt ends, not retried") {
  Fixture f(/*with_slurm=*/false);
  const std::string dir = AttemptDir(f.tmp.path().string(), core::JobId{5}, 1, "k5");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/slurm.json") << "{}\n";
  auto never = f.router.Reattach({{core::JobId{5}, 1, "k5", "old-hpc"}});
  CHECK(never.empty());  // not launched again either
  CHECK(f.local->reattached.empty());
  REQUIRE(f.ended.size() == 1);
  CHECK(f.ended[0].first == 5);
  CHECK(f.ended[0].second.status == core::StatusCode::kInternalError);
  CHECK(f.ended[0].second.message.starts_with(
      "pool 'old-hpc' is no longer in slussd's config and no slurm pool is left"));
}

}  // namespace
}  // namespace sluss::executors
