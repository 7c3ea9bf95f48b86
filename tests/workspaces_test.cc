// Workspaces against a real store and a real directory: a commit's code is
// exported once for all of its jobs, and swept when no pending or running
// job needs it. The repositories are faked behind GitService (counting the
// exports); the sandbox's read-only mount is tested end to end in
// tests/workspace_share_test.sh.
#include "executors/workspaces.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "core/time.h"
#include "store/store.h"
#include "tests/support/manual_clock.h"
#include "tests/support/temp_dir.h"

namespace sluss::executors {
namespace {

namespace fs = std::filesystem;
using core::StatusCode;

// Writes two files (one of them group-writable, as a checkout might leave
// it) for each export, and counts them.
class CountingGit final : public core::GitService {
 public:
  int exports = 0;
  bool over_limit = false;
  core::Result<std::string> CreateHosted(std::string_view) override { return ""; }
  core::Result<std::vector<core::SyncOutcome>> Sync(std::string_view) override { return {}; }
  core::Result<core::SyncOutcome> StartRun(const core::RunRequest&) override {
    return core::Internal("not here");
  }
  core::Result<std::vector<std::string>> ExportWorkspace(std::string_view, std::string_view,
                                                         const std::string& dir) override {
    ++exports;
    if (over_limit) return core::Fail(core::ErrorCode::kResourceExhausted, "over the limit");
    fs::create_directories(dir + "/src");
    std::ofstream(dir + "/src/model.py") << "print(1)\n";
    std::ofstream(dir + "/sluss.yaml") << "version: 1\n";
    fs::permissions(dir + "/src/model.py", fs::perms(0666));
    return std::vector<std::string>{};
  }
};

struct Fixture {
  testing::TempDir dir;
  testing::ManualClock clock;
  std::unique_ptr<store::SqliteStore> store =
      std::move(*store::SqliteStore::Open(dir.path() / "state.db"));
  CountingGit git;
  std::string root = (dir.path() / "workspaces").string();
  Workspaces workspaces{root, &git};

  Fixture() { REQUIRE(store->CreateProject({"p1", "", "", {}, {}, clock.Now()})); }

  core::Run MakeRun(char commit_digit) {
    core::NewRun r;
    r.project = "p1";
    r.commit = std::string(40, commit_digit);
    r.submitted_by = "a@example.org";
    r.jobs = {{"a", StatusCode::kWaitingOnResources, "waiting_on_resources", "{}", "k1", {}},
              {"b", StatusCode::kWaitingOnResources, "waiting_on_resources", "{}", "k2", {}}};
    return *store->CreateRun(r, clock.Now());
  }
  void EndJobs(const core::Run& run) {
    auto jobs = store->ListJobs(run.id);
    REQUIRE(jobs);
    for (const auto& j : *jobs)
      REQUIRE(store->TransitionJob(j.id, j.status, StatusCode::kCancelledByUser, "cancelled",
                                   clock.Now()));
  }
};

TEST_CASE("a commit's jobs share one export, read-only to them, with its output mount point") {
  Fixture f;
  auto run = f.MakeRun('a');
  auto first = f.workspaces.Get("p1", run.commit);
  REQUIRE(first);
  auto second = f.workspaces.Get("p1", run.commit);
  REQUIRE(second);
  CHECK(f.git.exports == 1);
  CHECK(first->path == second->path);
  CHECK(first->bytes == 9 + 11);
  CHECK(second->bytes == first->bytes);
  struct stat st;
  REQUIRE(::stat((first->path + "/src/model.py").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0644);  // nobody but root may write
  REQUIRE(::stat((first->path + "/src").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0755);
  CHECK(fs::is_directory(first->path + "/output"));
  // Another commit, another workspace.
  auto other = f.workspaces.Get("p1", std::string(40, 'b'));
  REQUIRE(other);
  CHECK(other->path != first->path);
  CHECK(f.git.exports == 2);
}

TEST_CASE("a failed export leaves nothing, and the next job tries again") {
  Fixture f;
  f.git.over_limit = true;
  auto ws = f.workspaces.Get("p1", std::string(40, 'a'));
  REQUIRE_FALSE(ws);
  CHECK(ws.error().code == core::ErrorCode::kResourceExhausted);
  CHECK(fs::is_empty(f.root));
  f.git.over_limit = false;
  REQUIRE(f.workspaces.Get("p1", std::string(40, 'a')));
  CHECK(f.git.exports == 2);
}

TEST_CASE("the sweep keeps what pending or running jobs need and removes the rest") {
  Fixture f;
  auto live = f.MakeRun('a');
  auto done = f.MakeRun('b');
  auto live_ws = f.workspaces.Get("p1", live.commit);
  auto done_ws = f.workspaces.Get("p1", done.commit);
  REQUIRE(live_ws);
  REQUIRE(done_ws);
  f.EndJobs(done);
  // What a crash left: an export cut short, a sweep cut short, and the
  // per-attempt workspaces of an older slussd (one of a job still pending,
  // one of a job that ended).
  fs::create_directories(f.root + "/" + Workspaces::Name("p1", live.commit) + ".tmp.7/src");
  fs::create_directories(f.root + "/.trash-c-old/src");
  const auto live_jobs = *f.store->ListJobs(live.id);
  const auto done_jobs = *f.store->ListJobs(done.id);
  const std::string legacy_live = f.root + "/" + std::to_string(live_jobs[0].id.value) + "-1-abc";
  const std::string legacy_done = f.root + "/" + std::to_string(done_jobs[0].id.value) + "-1-abc";
  fs::create_directories(legacy_live);
  fs::create_directories(legacy_done);
  auto swept = f.workspaces.Sweep(*f.store);
  REQUIRE(swept);
  CHECK(*swept == 4);
  CHECK(fs::is_directory(live_ws->path));
  CHECK_FALSE(fs::exists(done_ws->path));
  CHECK(fs::is_directory(legacy_live));
  CHECK_FALSE(fs::exists(legacy_done));
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(f.root)) left.push_back(e.path().filename());
  std::sort(left.begin(), left.end());
  CHECK(left == std::vector<std::string>{fs::path(legacy_live).filename(),
                                         Workspaces::Name("p1", live.commit)});
  // A retry of an ended job exports its commit again.
  REQUIRE(f.workspaces.Get("p1", done.commit));
  CHECK(f.git.exports == 3);
  // Once the last job of the live commit ends, its workspace goes too.
  f.EndJobs(live);
  REQUIRE(f.workspaces.Sweep(*f.store));
  CHECK_FALSE(fs::exists(live_ws->path));
  CHECK_FALSE(fs::exists(done_ws->path));
}

TEST_CASE("only shared workspaces are left to the sweep, an older per-attempt one goes with its job") {
  CHECK(Workspaces::IsShared("/state/workspaces/" + Workspaces::Name("p1", std::string(40, 'a'))));
  CHECK_FALSE(Workspaces::IsShared("/state/workspaces/12-1-abcdef"));
}

}  // namespace
}  // namespace sluss::executors
