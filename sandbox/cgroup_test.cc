// Against fake cgroupfs trees: v2 is what production GPU nodes run; this
// development host has v1, which the sandbox integration test reads for real.

#include "sandbox/cgroup.h"

#include <filesystem>
#include <fstream>

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

TEST_CASE("leftover job cgroup directories are removed in every v1 hierarchy") {
  testing::TempDir root;
  for (const char* c : {"memory", "pids", "cpu"})
    fs::create_directories(root.path() / c / "sluss" / "sluss-5-1");
  CHECK(RemoveCgroupDirs(root.path(), CgroupVersion::kV1, "/sluss/sluss-5-1") == 3);
  CHECK_FALSE(fs::exists(root.path() / "memory" / "sluss" / "sluss-5-1"));
  CHECK(fs::exists(root.path() / "memory" / "sluss"));  // the shared parent stays
}

}  // namespace
}  // namespace sluss::sandbox
