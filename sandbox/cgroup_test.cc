// Against fake cgroupfs trees: v2 is what production GPU nodes run; this
// development host has v1, which the sandbox integration test reads for real.

#include "sandbox/cgroup.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

namespace sluss::sandbox {
namespace {

namespace fs = std::filesystem;

using testing::WriteFile;

TEST_CASE("cgroup v2: peak memory, CPU, pids and OOM kills from a fake tree") {
  testing::TempDir root;
  WriteFile(root.path() / "cgroup.controllers", "cpuset cpu io memory pids\n");
  fs::path job = root.path() / "sluss" / "sluss-3-1";
  WriteFile(job / "memory.peak", "268435456\n");
  WriteFile(job / "memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n");
  WriteFile(job / "cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n");
  WriteFile(job / "pids.peak", "17\n");
  REQUIRE(DetectCgroupVersion(root.path()) == CgroupVersion::kV2);
  CgroupStats s = ReadCgroupStats(root.path(), CgroupVersion::kV2, "/sluss/sluss-3-1");
  CHECK(s.found);
  CHECK(s.memory_peak_bytes == 268435456);
  CHECK(s.oom_kills == 1);
  CHECK(s.cpu_usage_ns == 2'500'000'000);
  CHECK(s.pids_peak == 17);
}

TEST_CASE("cgroup v1: one hierarchy per controller") {
  testing::TempDir root;
  const std::string rel = "sluss/sluss-4-2";
  WriteFile(root.path() / "memory" / rel / "memory.max_usage_in_bytes", "1048576\n");
  WriteFile(root.path() / "memory" / rel / "memory.oom_control",
      "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  WriteFile(root.path() / "cpuacct" / rel / "cpuacct.usage", "123456789\n");
  WriteFile(root.path() / "pids" / rel / "pids.peak", "5\n");
  REQUIRE(DetectCgroupVersion(root.path()) == CgroupVersion::kV1);
  CgroupStats s = ReadCgroupStats(root.path(), CgroupVersion::kV1, "/" + rel);
  CHECK(s.found);
  CHECK(s.memory_peak_bytes == 1048576);
  CHECK(s.oom_kills == 2);
  CHECK(s.cpu_usage_ns == 123456789);
  CHECK(s.pids_peak == 5);
}

TEST_CASE("a missing cgroup reads as zeros, not an error") {
  testing::TempDir root;
  CgroupStats s = ReadCgroupStats(root.path(), CgroupVersion::kV1, "/sluss/none");
  CHECK_FALSE(s.found);
  CHECK(s.memory_peak_bytes == 0);
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("cgroup v1: the job's cgroup holds the memory limit, a page under, and an OOM watch") {
  testing::TempDir root;
  const fs::path job = root.path() / "memory" / "sluss" / "sluss-6-1";
  fs::create_directories(job);
  WriteFile(job / "memory.memsw.limit_in_bytes", "9223372036854771712\n");
  WriteFile(job / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
  auto fd = HoldJobCgroup(root.path(), CgroupVersion::kV1, "/sluss/sluss-6-1", 256 << 20);
  REQUIRE(fd);
  REQUIRE(*fd >= 0);
  CHECK(Slurp(job / "memory.limit_in_bytes") == std::to_string((256 << 20) - 4096));
  CHECK(Slurp(job / "memory.memsw.limit_in_bytes") == std::to_string((256 << 20) - 4096));
  // "<eventfd> <fd of memory.oom_control>", as cgroup.event_control takes it.
  std::istringstream reg(Slurp(job / "cgroup.event_control"));
  int efd = -1, ofd = -1;
  reg >> efd >> ofd;
  CHECK(efd == *fd);
  CHECK(ofd >= 0);
  // The kernel signals the eventfd at each OOM under the cgroup.
  ::eventfd_write(*fd, 1);
  CgroupStats s = ReadCgroupStats(root.path(), CgroupVersion::kV1, "/sluss/sluss-6-1", *fd);
  CHECK(s.oom_kills == 1);
  ::close(*fd);
}

TEST_CASE("cgroup v2: the runtime makes the job's cgroup, nothing to hold") {
  testing::TempDir root;
  WriteFile(root.path() / "cgroup.controllers", "cpuset cpu io memory pids\n");
  auto fd = HoldJobCgroup(root.path(), CgroupVersion::kV2, "/sluss/sluss-6-1", 256 << 20);
  REQUIRE(fd);
  CHECK(*fd == -1);
  CHECK_FALSE(fs::exists(root.path() / "sluss"));
}

TEST_CASE("a v1 job cgroup that cannot be made is an error that names it") {
  testing::TempDir root;
  WriteFile(root.path() / "memory", "not a directory\n");
  auto fd = HoldJobCgroup(root.path(), CgroupVersion::kV1, "/sluss/sluss-6-1", 256 << 20);
  REQUIRE_FALSE(fd);
  CHECK(fd.error().message.find("cannot create the job's cgroup") != std::string::npos);
}

TEST_CASE("leftover job cgroup directories are removed in every v1 hierarchy") {
  testing::TempDir root;
  for (const char* c : {"memory", "pids", "cpu"})
    fs::create_directories(root.path() / c / "sluss" / "sluss-5-1");
  fs::create_directories(root.path() / "cpu" / "sluss" / "sluss-5-1" / "job");  // the runtime's
  CHECK(RemoveCgroupDirs(root.path(), CgroupVersion::kV1, "/sluss/sluss-5-1") == 4);
  CHECK_FALSE(fs::exists(root.path() / "memory" / "sluss" / "sluss-5-1"));
  CHECK(fs::exists(root.path() / "memory" / "sluss"));  // the shared parent stays
}

}  // namespace
}  // namespace sluss::sandbox
