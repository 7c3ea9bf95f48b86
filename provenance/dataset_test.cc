#include "provenance/dataset.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/digest.h"
#include "tests/support/temp_dir.h"

namespace sluss::provenance {
namespace {

using testing::TempDir;
using testing::WriteFile;

TEST_CASE("a directory hashes to a sorted BagIt manifest and a stable id") {
  TempDir dir;
  WriteFile(dir / "b.csv", "id,drug\n1,x\n");
  ::mkdir((dir / "sub").c_str(), 0755);
  WriteFile(dir / "sub/a.csv", "");
  WriteFile(dir / "a.csv", "hello");
  auto m = HashDirectory(dir.path(), 4);
  REQUIRE(m);
  REQUIRE(m->files.size() == 3);
  CHECK(m->files[0].path == "a.csv");
  CHECK(m->files[2].path == "sub/a.csv");
  CHECK(m->files[0].sha256 == core::Sha256Hex("hello"));
  CHECK(m->Text().substr(0, 66) == core::Sha256Hex("hello") + "  ");
  CHECK(m->Id() == "sha256:" + core::Sha256Hex(m->Text()));
  auto again = HashDirectory(dir.path(), 1);
  CHECK(again->Id() == m->Id());
  CHECK(m->Bytes() == 5 + 12);
}

TEST_CASE("a manifest written and read back is the same") {
  TempDir dir;
  WriteFile(dir / "x", "1");
  auto m = HashDirectory(dir.path(), 2);
  TempDir out;
  REQUIRE(WriteManifest(out.path(), *m));
  auto back = ReadManifest(out.path());
  REQUIRE(back);
  CHECK(back->Id() == m->Id());
  CHECK(back->files[0].mtime_ns == m->files[0].mtime_ns);
}

TEST_CASE("a changed directory is found, naming the file") {
  TempDir dir;
  WriteFile(dir / "rx.csv", "12345");
  WriteFile(dir / "other.csv", "abc");
  auto m = HashDirectory(dir.path(), 2);
  REQUIRE(CheckUnchanged(dir.path(), *m));
  SECTION("grown") {
    WriteFile(dir / "rx.csv", "1234567");
    auto r = CheckUnchanged(dir.path(), *m);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "rx.csv: size 7, was 5");
  }
  SECTION("added") {
    WriteFile(dir / "new.csv", "x");
    CHECK(CheckUnchanged(dir.path(), *m).error().message == "new.csv was added");
  }
  SECTION("removed") {
    ::unlink((dir / "other.csv").c_str());
    CHECK(CheckUnchanged(dir.path(), *m).error().message == "other.csv was removed");
  }
  SECTION("same size, new content: the quick check sees the mtime, the full one the content") {
    WriteFile(dir / "rx.csv", "54321");
    struct timespec times[2] = {{0, UTIME_OMIT}, {1, 0}};
    ::utimensat(AT_FDCWD, (dir / "rx.csv").c_str(), times, 0);
    CHECK_THAT(CheckUnchanged(dir.path(), *m).error().message, Catch::Contains("modified"));
    auto r = VerifyContent(dir.path(), *m, 2);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("rx.csv: content changed"));
  }
}

TEST_CASE("symlinks and special files are refused with their path") {
  TempDir dir;
  WriteFile(dir / "a", "x");
  REQUIRE(::symlink("/etc/shadow", (dir / "link").c_str()) == 0);
  auto m = HashDirectory(dir.path(), 2);
  REQUIRE_FALSE(m);
  CHECK_THAT(m.error().message, Catch::Contains("link is a symbolic link"));
  CHECK(HashDirectory(dir / "nope", 1).error().code == core::ErrorCode::kNotFound);
}

}  // namespace
}  // namespace sluss::provenance
