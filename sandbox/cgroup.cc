#include "sandbox/cgroup.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

namespace sluss::sandbox {
namespace {

namespace fs = std::filesystem;

std::int64_t ReadNumber(const fs::path& file) {
  std::ifstream in(file);
  std::int64_t v = 0;
  if (!(in >> v)) return 0;
  return v;
}

// "key value" lines, as in memory.events, cpu.stat and memory.oom_control.
std::int64_t ReadKey(const fs::path& file, std::string_view key) {
  std::ifstream in(file);
  std::string k;
  std::int64_t v = 0;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

}  // namespace

CgroupVersion DetectCgroupVersion(const std::string& root) {
  std::error_code ec;
  return fs::exists(fs::path(root) / "cgroup.controllers", ec) ? CgroupVersion::kV2
                                                               : CgroupVersion::kV1;
}

const char* Name(CgroupVersion version) {
  return version == CgroupVersion::kV2 ? "v2" : "v1";
}

CgroupStats ReadCgroupStats(const std::string& root, CgroupVersion version,
                            const std::string& path) {
  CgroupStats s;
  const fs::path rel = fs::path(path).relative_path();
  std::error_code ec;
  if (version == CgroupVersion::kV2) {
    const fs::path dir = fs::path(root) / rel;
    s.found = fs::is_directory(dir, ec);
    s.memory_peak_bytes = ReadNumber(dir / "memory.peak");
    s.cpu_usage_ns = ReadKey(dir / "cpu.stat", "usage_usec") * 1000;
    s.pids_peak = ReadNumber(dir / "pids.peak");
    s.oom_kills = ReadKey(dir / "memory.events", "oom_kill");
    return s;
  }
  const fs::path memory = fs::path(root) / "memory" / rel;
  s.found = fs::is_directory(memory, ec);
  s.memory_peak_bytes = ReadNumber(memory / "memory.max_usage_in_bytes");
  s.oom_kills = ReadKey(memory / "memory.oom_control", "oom_kill");
  s.cpu_usage_ns = ReadNumber(fs::path(root) / "cpuacct" / rel / "cpuacct.usage");
  if (s.cpu_usage_ns == 0)
    s.cpu_usage_ns = ReadNumber(fs::path(root) / "cpu,cpuacct" / rel / "cpuacct.usage");
  s.pids_peak = ReadNumber(fs::path(root) / "pids" / rel / "pids.peak");
  return s;
}

int RemoveCgroupDirs(const std::string& root, CgroupVersion version,
                     const std::string& path) {
  const fs::path rel = fs::path(path).relative_path();
  int removed = 0;
  auto remove = [&](const fs::path& dir) {
    // cgroupfs directories are removed with rmdir even though they list
    // control files; a regular directory (a fake tree) needs its files gone.
    if (::rmdir(dir.c_str()) == 0) ++removed;
  };
  std::error_code ec;
  if (version == CgroupVersion::kV2) {
    remove(fs::path(root) / rel);
    return removed;
  }
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (!entry.is_directory(ec) || entry.is_symlink(ec)) continue;
    remove(entry.path() / rel);
  }
  return removed;
}

}  // namespace sluss::sandbox
