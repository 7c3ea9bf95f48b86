#include "sandbox/outputs.h"
#include "sandbox/supervisor.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "core/strings.h"
#include "tests/support/temp_dir.h"

namespace sluss::sandbox {
namespace {

namespace fs = std::filesystem;

using testing::WriteFile;

TEST_CASE("declared outputs are hashed and copied, the rest is left") {
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

TEST_CASE("names that are not printable UTF-8, or too long, are refused by name, escaped") {
  testing::TempDir dir;
  const fs::path out = dir.path() / "out";
  WriteFile(out / "good.csv", "ok");
  WriteFile(out / "caf\xff.csv", "x");             // not UTF-8
  WriteFile(out / "two\nlines.csv", "x");          // a newline
  WriteFile(out / "esc\x1b[2J.csv", "x");          // a terminal escape
  WriteFile(out / "tab\there.csv", "x");
  WriteFile(out / "r\xc3\xa9sum\xc3\xa9.csv", "x");  // UTF-8: fine
  fs::path deep = out;
  for (int i = 0; i < 15; ++i) deep /= std::string(250, 'd');  // a 3.7 KiB path
  WriteFile(deep / "x.csv", "x");
  auto r = CollectOutputs(out, {"output/**"}, {}, dir / "copy");
  REQUIRE(r);
  std::vector<std::string> paths;
  for (const auto& f : r->files) paths.push_back(f.path);
  CHECK(paths == std::vector<std::string>{"output/good.csv", "output/r\xc3\xa9sum\xc3\xa9.csv"});
  REQUIRE(r->problems.size() == 5);
  std::vector<std::string> want = {
      "output/caf\\xff.csv has a name that is not UTF-8; it was not collected",
      "output/esc\\x1b[2J.csv has a control character (a newline, a tab, ...) in its name; it "
      "was not collected",
      "output/tab\\x09here.csv has a control character (a newline, a tab, ...) in its name; it "
      "was not collected",
      "output/two\\x0alines.csv has a control character (a newline, a tab, ...) in its name; "
      "it was not collected",
  };
  for (const auto& w : want) CHECK(std::find(r->problems.begin(), r->problems.end(), w) != r->problems.end());
  const std::string long_one = "output/" + std::string(153, 'd') + "... has a path of 3777 bytes; "
                               "the limit is 1024; it was not collected";
  CHECK(std::find(r->problems.begin(), r->problems.end(), long_one) != r->problems.end());
  for (const auto& p : r->problems) CHECK(core::FindInvalidUtf8(p) == std::string::npos);
  CHECK_FALSE(fs::exists(dir.path() / "copy" / "output" / "caf\xff.csv"));
}

TEST_CASE("outputs past the limit are not kept, sparse files count by their logical size") {
  testing::TempDir dir;
  const fs::path out = dir.path() / "out";
  fs::create_directories(out);
  for (const char* name : {"a.bin", "b.bin", "c.bin"}) {
    // 10 MiB each, almost nothing allocated.
    WriteFile(out / name, "x");
    fs::resize_file(out / name, 10 << 20);
  }
  auto r = CollectOutputs(out, {"output/*.bin"}, {}, dir / "copy", 25 << 20);
  REQUIRE(r);
  CHECK(r->over_limit);
  REQUIRE(r->files.size() == 2);
  CHECK(r->problems == std::vector<std::string>{
                           "output/c.bin (10485760 bytes) was not kept: with it the outputs would be "
                           "over the job's output limit of 26214400 bytes"});
  CHECK_FALSE(fs::exists(dir.path() / "copy" / "output" / "c.bin"));
  auto all = CollectOutputs(out, {"output/*.bin"}, {}, "", 30 << 20);
  REQUIRE(all);
  CHECK_FALSE(all->over_limit);
  CHECK(all->files.size() == 3);
}

TEST_CASE("2000 small outputs in 50 directories are all collected, hashed and copied") {
  testing::TempDir dir;
  const fs::path out = dir.path() / "out";
  for (int i = 0; i < 2000; ++i)
    WriteFile(out / ("d" + std::to_string(i % 50)) / (std::to_string(i) + ".txt"), std::to_string(i));
  auto r = CollectOutputs(out, {"output/**"}, {}, dir / "copy");
  REQUIRE(r);
  CHECK(r->problems.empty());
  CHECK(r->files.size() == 2000);
  CHECK(fs::exists(dir.path() / "copy" / "output" / "d7" / "1957.txt"));
}

TEST_CASE("a result with bytes that are not UTF-8 is still written, as JSON") {
  testing::TempDir dir;
  JobResult r;
  r.status = "missing_outputs";
  r.message = "output/caf\xff.csv: a job's bytes";
  r.outputs.push_back({"output/\xfe\xff", 1, std::string(64, '0')});
  REQUIRE(WriteResult(dir.path().string(), r));
  std::ifstream in(dir.path() / "result.json");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(core::FindInvalidUtf8(text) == std::string::npos);
  CHECK(text.find("missing_outputs") != std::string::npos);
  CHECK(text.find("output/caf\xef\xbf\xbd.csv") != std::string::npos);  // U+FFFD
}

}  // namespace
}  // namespace sluss::sandbox
