#pragma once

// The OCI runtime bundle's config.json for a job, and the seccomp profile in
// it. Pure: the caller resolves host facts (device numbers, the output
// directory) first, so tests can check every isolation setting as data.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sandbox/cdi.h"
#include "sandbox/run_spec.h"

namespace sluss::sandbox {

// A host character device given to the job (a GPU or its control nodes).
struct DeviceGrant {
  std::string path;  // in the container
  std::int64_t major = 0;
  std::int64_t minor = 0;
};

struct BundleInputs {
  std::string output_dir;  // host directory mounted at /workspace/output
  std::vector<DeviceGrant> devices;
  std::vector<CdiMount> gpu_mounts;
  std::vector<std::string> gpu_env;  // from the CDI spec, "KEY=VALUE"
  // cgroup v1 charges TCP buffers to a memory cgroup only under a kernel
  // TCP limit of its own: without one, a job's socket buffers escape its
  // memory limit (v2 charges them to memory itself).
  bool limit_kernel_tcp = false;
};

// The job's cgroup, sluss-run's: "<parent>/<id>". The runtime's, the
// config's cgroupsPath, is "<parent>/<id>/job" (see HoldJobCgroup).
std::string CgroupPath(const RunSpec& spec);

nlohmann::json OciConfig(const RunSpec& spec, const BundleInputs& inputs);

// An allowlist (default: EPERM) written for analysis jobs: what Python and
// R need, and none of ptrace, mount, unshare, setns, bpf, keyctl,
// userfaultfd, io_uring, process_vm_*, perf_event_open, kexec or module
// loading; clone only without namespace flags; clone3 answers ENOSYS so
// that libc falls back to clone, whose flags a filter can inspect.
nlohmann::json SeccompProfile();

}  // namespace sluss::sandbox
