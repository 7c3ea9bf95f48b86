#include "sandbox/outputs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

namespace sluss::sandbox {
namespace {

namespace fs = std::filesystem;

using testing::WriteFile;

TEST_CASE("declared outputs are hashed and copied; the rest is left") {
  testing::TempDir dir;
  const fs::path out = dir.path() / "out";
  WriteFile(out / "table1.csv", "a,b\n1,2\n");
  WriteFile(out / "plots" / "km.png", "png");
  WriteFile(out / "scratch.tmp", "x");
  auto r = CollectOutputs(out, {"output/table1.csv", "output/plots/*.png"}, {},
                          dir / "copy");
  REQUIRE(r);
  CHECK(r->problems.empty());
  REQUIRE(r->files.size() == 2);
  CHECK(r->files[0].path == "output/plots/km.png");
  CHECK(r->files[1].path == "output/table1.csv");
  CHECK(r->files[1].size == 8);
  // sha256 of "a,b\n1,2\n"
  CHECK(r->files[1].sha256 == "492d5ea496056f1a6a6592241032fab764c321596317930b4fa0e1e8bc3b7470");
  CHECK(fs::exists(dir.path() / "copy" / "output" / "table1.csv"));
  CHECK_FALSE(fs::exists(dir.path() / "copy" / "output" / "scratch.tmp"));
}

TEST_CASE("a symlink, a hard link, a FIFO or a missing output is refused with the reason") {
  testing::TempDir dir;
  const fs::path out = dir.path() / "out";
  fs::create_directories(out);
  fs::create_symlink("/etc/shadow", out / "shadow.csv");
  WriteFile(dir.path() / "elsewhere", "secret");
  REQUIRE(::link((dir.path() / "elsewhere").c_str(), (out / "linked.csv").c_str()) == 0);
  REQUIRE(::mkfifo((out / "pipe.csv").c_str(), 0600) == 0);
  fs::create_symlink("/etc", out / "dir");
  auto r = CollectOutputs(out, {"output/*.csv", "output/dir/passwd", "output/model.pt"}, {},
                          dir / "copy");
  REQUIRE(r);
  CHECK(r->files.empty());
  CHECK(r->problems == std::vector<std::string>{
                           "output/dir/passwd was not written",
                           "output/linked.csv is a hard link (2 names); it was not collected",
                           "output/model.pt was not written",
                           "output/pipe.csv is a FIFO, not a regular file; it was not collected",
                           "output/shadow.csv is a symbolic link, not a regular file; it was not collected",
                       });
  CHECK_FALSE(fs::exists(dir.path() / "copy" / "output" / "shadow.csv"));
}

TEST_CASE("the inputs' mount points are not outputs") {
  testing::TempDir dir;
  const fs::path out = dir.path() / "out";
  WriteFile(out / "cohort.csv", "");
  WriteFile(out / "model.txt", "m");
  auto r = CollectOutputs(out, {"output/*"}, {"output/cohort.csv"}, "");
  REQUIRE(r);
  REQUIRE(r->files.size() == 1);
  CHECK(r->files[0].path == "output/model.txt");
}

}  // namespace
}  // namespace sluss::sandbox
