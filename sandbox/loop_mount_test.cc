#include "sandbox/loop_mount.h"

#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/strings.h"
#include "tests/support/temp_dir.h"

namespace sluss::sandbox {
namespace {

namespace fs = std::filesystem;
using core::StrCat;

constexpr long kExt4Magic = 0xEF53;

// What one child reports: '1' when its output file system is mounted, else
// '0' and the error.
void RunChild(const fs::path& dir, int i, int start_fd, int report_fd, int release_fd) {
  const std::string image = StrCat(dir.string(), "/", i, ".img");
  const std::string mnt = StrCat(dir.string(), "/m", i);
  fs::create_directory(mnt);
  char c;
  (void)::read(start_fd, &c, 1);  // all start at once: the parent closes it
  std::string line = "1";
  if (auto made = MakeExt4Image(image, 16 << 20, (dir / "templates").string()); !made) {
    line = "0" + made.error().message;
  } else if (auto m = MountLoopImage(image, mnt); !m) {
    line = "0" + m.error().message;
  } else {
    struct statfs st;
    if (::statfs(mnt.c_str(), &st) != 0 || st.f_type != kExt4Magic) line = "0not ext4 after mount";
  }
  line += "\n";
  (void)::write(report_fd, line.data(), line.size());
  (void)::read(release_fd, &c, 1);  // held until all have reported
  UnmountIfMounted(mnt);
  ::_exit(0);
}

// Reads one line per child from FD.
std::vector<std::string> ReadLines(int fd, int count) {
  std::vector<std::string> lines;
  std::string buf;
  char chunk[512];
  while (static_cast<int>(lines.size()) < count) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = buf.find('\n')) != std::string::npos; buf.erase(0, nl + 1))
      lines.push_back(buf.substr(0, nl));
  }
  return lines;
}

TEST_CASE("128 output file systems mounted at once each get a loop device of their own") {
  if (::geteuid() != 0 || ::access("/dev/loop-control", R_OK | W_OK) != 0) {
    WARN("skipped: needs root and /dev/loop-control");
    return;
  }
  constexpr int kJobs = 128;
  testing::TempDir dir;
  // The template made once, so the children race on the loop devices only.
  REQUIRE(MakeExt4Image((dir.path() / "first.img").string(), 16 << 20,
                        (dir.path() / "templates").string()));
  int start[2], report[2], release[2];
  REQUIRE(::pipe(start) == 0);
  REQUIRE(::pipe(report) == 0);
  REQUIRE(::pipe(release) == 0);
  std::vector<pid_t> children;
  for (int i = 0; i < kJobs; ++i) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(start[1]);
      ::close(report[0]);
      ::close(release[1]);
      RunChild(dir.path(), i, start[0], report[1], release[0]);
    }
    children.push_back(pid);
  }
  ::close(start[0]);
  ::close(report[1]);
  ::close(release[0]);
  ::close(start[1]);  // go
  const std::vector<std::string> lines = ReadLines(report[0], kJobs);
  ::close(release[1]);  // all unmount
  ::close(report[0]);
  for (pid_t pid : children) ::waitpid(pid, nullptr, 0);
  REQUIRE(lines.size() == kJobs);
  int mounted = 0;
  for (const std::string& line : lines) {
    if (line == "1") {
      ++mounted;
    } else {
      FAIL_CHECK(line.substr(1));
    }
  }
  CHECK(mounted == kJobs);
  // Each unmounted: its directory is on the same device as the one above.
  struct stat above;
  REQUIRE(::stat(dir.path().c_str(), &above) == 0);
  for (int i = 0; i < kJobs; ++i) {
    struct stat st;
    const std::string mnt = StrCat(dir.path().string(), "/m", i);
    CHECK((::stat(mnt.c_str(), &st) == 0 && st.st_dev == above.st_dev));
  }
}

}  // namespace
}  // namespace sluss::sandbox
