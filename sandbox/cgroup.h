#pragma once

// Reading a job's cgroup figures, for cgroup v1 (one hierarchy per
// controller, as on this development host) and v2 (one unified tree, as on
// production GPU nodes). The root is a parameter so that tests can point it
// at a fake cgroupfs tree.

#include <cstdint>
#include <string>

namespace sluss::sandbox {

enum class CgroupVersion { kV1, kV2 };

// v2 when `root`/cgroup.controllers exists (a unified mount), else v1.
CgroupVersion DetectCgroupVersion(const std::string& root);
const char* Name(CgroupVersion version);

struct CgroupStats {
  std::int64_t memory_peak_bytes = 0;
  std::int64_t cpu_usage_ns = 0;
  std::int64_t pids_peak = 0;
  std::int64_t oom_kills = 0;
  bool found = false;  // the job's cgroup existed
};

// Reads the figures of the cgroup at `path` (the cgroupsPath, "/sluss/x").
// Missing files read as 0; must be called before the runtime's delete.
CgroupStats ReadCgroupStats(const std::string& root, CgroupVersion version,
                            const std::string& path);

// Removes what is left of the cgroup at `path` in every hierarchy (runc's
// delete leaves directories behind in v1). Empty directories only; returns
// how many it removed.
int RemoveCgroupDirs(const std::string& root, CgroupVersion version,
                     const std::string& path);

}  // namespace sluss::sandbox
