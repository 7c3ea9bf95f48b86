#include "sandbox/cgroup.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "core/strings.h"

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

bool WriteText(const fs::path& file, const std::string& text) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  return ::close(fd) == 0 && ok;
}

// Removes the directories under `dir`, deepest first, then `dir`.
void RemoveTree(const fs::path& dir, int& removed) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_directory(ec) && !entry.is_symlink(ec)) RemoveTree(entry.path(), removed);
  // cgroupfs directories are removed with rmdir even though they list
  // control files; a regular directory (a fake tree) needs its files gone.
  if (::rmdir(dir.c_str()) == 0) ++removed;
}

}  // namespace

core::Result<int> HoldJobCgroup(const std::string& root, CgroupVersion version,
                                const std::string& path, std::int64_t memory_bytes) {
  using core::StrCat;
  if (version == CgroupVersion::kV2) return -1;
  const fs::path dir = fs::path(root) / "memory" / fs::path(path).relative_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return core::Internal(StrCat("cannot create the job's cgroup ", dir.string(), ": ",
                                       ec.message()));
  auto fail = [&](std::string what) -> core::Result<int> {
    const int err = errno;
    ::rmdir(dir.c_str());  // made here, empty: no half-made job cgroup is left
    return core::Internal(StrCat(what, " ", dir.string(), ": ", std::strerror(err)));
  };
  if (memory_bytes > 0) {
    const std::string limit = std::to_string(std::max<std::int64_t>(memory_bytes - 4096, 4096));
    if (!WriteText(dir / "memory.limit_in_bytes", limit))
      return fail("cannot set the memory limit of");
    // memory+swap, where the kernel accounts swap: no swap beyond memory.
    if (fs::exists(dir / "memory.memsw.limit_in_bytes", ec) &&
        !WriteText(dir / "memory.memsw.limit_in_bytes", limit))
      return fail("cannot set the memory+swap limit of");
  }
  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return fail("cannot make an eventfd for");
  int ofd = ::open((dir / "memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC);
  const bool ok = ofd >= 0 && WriteText(dir / "cgroup.event_control", StrCat(efd, " ", ofd));
  const int err = errno;
  if (ofd >= 0) ::close(ofd);  // the registration holds its own reference
  if (!ok) {
    ::close(efd);
    errno = err;
    return fail("cannot watch for OOM kills in");
  }
  // v1 charges a job's TCP buffers to its memory cgroup only when that
  // cgroup has a kernel TCP limit of its own, set before any task joins;
  // runc 1.1 no longer sets one. So the runtime's cgroup is made here, with
  // the limit, and the runtime finds it (and applies the rest). A kernel
  // without kmem accounting has no such file: nothing to do.
  if (memory_bytes > 0) {
    const fs::path job = dir / "job";
    fs::create_directories(job, ec);
    if (fs::exists(job / "memory.kmem.tcp.limit_in_bytes", ec))
      (void)WriteText(job / "memory.kmem.tcp.limit_in_bytes", std::to_string(memory_bytes));
  }
  return efd;
}

CgroupVersion DetectCgroupVersion(const std::string& root) {
  std::error_code ec;
  return fs::exists(fs::path(root) / "cgroup.controllers", ec) ? CgroupVersion::kV2
                                                               : CgroupVersion::kV1;
}

const char* Name(CgroupVersion version) {
  return version == CgroupVersion::kV2 ? "v2" : "v1";
}

CgroupStats ReadCgroupStats(const std::string& root, CgroupVersion version,
                            const std::string& path, int oom_eventfd) {
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
  std::uint64_t ooms = 0;
  if (oom_eventfd >= 0 && ::read(oom_eventfd, &ooms, sizeof ooms) == sizeof ooms)
    s.oom_kills = std::max(s.oom_kills, static_cast<std::int64_t>(ooms));
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
  std::error_code ec;
  if (version == CgroupVersion::kV2) {
    RemoveTree(fs::path(root) / rel, removed);
    return removed;
  }
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (!entry.is_directory(ec) || entry.is_symlink(ec)) continue;
    if (fs::is_directory(entry.path() / rel, ec)) RemoveTree(entry.path() / rel, removed);
  }
  return removed;
}

}  // namespace sluss::sandbox
