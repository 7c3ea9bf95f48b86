#pragma once

// Reading a job's cgroup figures, for cgroup v1 (one hierarchy per
// controller, as on this development host) and v2 (one unified tree, as on
// production GPU nodes). The root is a parameter so that tests can point it
// at a fake cgroupfs tree.

#include <cstdint>
#include <string>

#include "core/error.h"

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

// A job's cgroup is sluss-run's: `path` ("/sluss/x"); the runtime's is
// `path`/job, which `runc run` removes as the container ends. The figures
// are hierarchical, so `path` keeps them after that: memory peak, CPU time
// and pids peak, and in v2 the OOM kills (memory.events counts up the tree).
//
// In v1 an OOM kill is counted only in the cgroup of the process killed,
// gone with `path`/job. So in v1 `path` holds the memory limit, one page
// under the job's own (which the job sees in its cgroup), which makes it the
// cgroup where the OOM happens; and an eventfd registered on its
// memory.oom_control counts them (cgroup.event_control). HoldJobCgroup
// creates `path` in the memory hierarchy with that limit and returns the
// eventfd (close it after ReadCgroupStats); it also makes `path`/job with a
// kernel TCP limit equal to the memory (v1 does not charge socket buffers
// to a cgroup without one). In v2 it does nothing and returns -1 (the
// runtime creates `path` as the parent of its own; v2 charges sockets).
core::Result<int> HoldJobCgroup(const std::string& root, CgroupVersion version,
                                const std::string& path, std::int64_t memory_bytes);

// Reads the figures of the cgroup at `path`; `oom_eventfd` is what
// HoldJobCgroup returned (or -1). Missing files read as 0.
CgroupStats ReadCgroupStats(const std::string& root, CgroupVersion version,
                            const std::string& path, int oom_eventfd = -1);

// Removes the cgroup at `path` and the cgroups under it, in every
// hierarchy, deepest first (the runtime's delete leaves directories behind
// in v1). Empty directories only; returns how many it removed.
int RemoveCgroupDirs(const std::string& root, CgroupVersion version,
                     const std::string& path);

}  // namespace sluss::sandbox
