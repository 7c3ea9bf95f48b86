// SqliteStore: release requests against a real SQLite file.

#include <catch2/catch.hpp>

#include "store/store.h"
#include "tests/support/manual_clock.h"
#include "tests/support/temp_dir.h"

using namespace sluss;

namespace {

core::Release Request(std::string author) {
  core::Release r;
  r.project = "p1";
  r.author = std::move(author);
  return r;
}

}  // namespace

TEST_CASE("release requests: one open per person and project, stale updates conflict") {
  testing::TempDir dir;
  testing::ManualClock clock;
  auto opened = store::SqliteStore::Open(dir / "state.db");
  REQUIRE(opened);
  auto& s = **opened;
  REQUIRE(s.CreateProject({"p1", "a study", "", {}, {}, clock.Now()}));

  auto a = s.CreateRelease(Request("alice"));
  REQUIRE(a);
  CHECK(a->id == 1);
  CHECK(a->version == 1);
  // A second open request of the same person in the same project.
  auto again = s.CreateRelease(Request("alice"));
  REQUIRE_FALSE(again);
  CHECK(again.error().code == core::ErrorCode::kAlreadyExists);
  CHECK(again.error().message.find("(request 1)") != std::string::npos);
  // Another person, or an unknown project.
  CHECK(s.CreateRelease(Request("bob")));
  auto nowhere = Request("alice");
  nowhere.project = "p9";
  CHECK(s.CreateRelease(nowhere).error().code == core::ErrorCode::kNotFound);

  // Two changes made from the same read: the second is refused.
  core::Release first = *a, second = *a;
  first.state = "submitted";
  first.groups["tables"] = {"Table 1", "rounded to 5"};
  core::ReleaseFile f;
  f.path = "output/t.csv";
  f.sha256 = std::string(64, 'a');
  f.votes.push_back({"carol", "approve", "fine", clock.Now()});
  first.files.push_back(f);
  auto stored = s.UpdateRelease(first);
  REQUIRE(stored);
  CHECK(stored->version == 2);
  second.state = "withdrawn";
  CHECK(s.UpdateRelease(second).error().code == core::ErrorCode::kConflict);

  // Read back whole, with its files and votes.
  auto got = s.GetRelease(1);
  REQUIRE(got);
  CHECK(got->state == "submitted");
  REQUIRE(got->files.size() == 1);
  CHECK(got->files[0].votes[0].checker == "carol");
  CHECK(got->files[0].votes[0].comment == "fine");
  CHECK(got->groups.at("tables").controls == "rounded to 5");

  // Once it is final, the person may open another.
  got->state = "withdrawn";
  REQUIRE(s.UpdateRelease(*got));
  CHECK(s.CreateRelease(Request("alice")));
  auto list = s.ListReleases("p1", "alice");
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  CHECK(list->front().id == 3);  // newest first
  CHECK(s.GetRelease(99).error().code == core::ErrorCode::kNotFound);
}
