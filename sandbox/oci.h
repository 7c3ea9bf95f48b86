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

// A host device given to the job (a GPU, its control nodes, /dev/dri),
// resolved against the host's node: nothing left to look up.
struct DeviceGrant {
  std::string path;  // in the container
  std::int64_t major = 0;
  std::int64_t minor = 0;
  std::string type = "c";       // "c", "b", "u" or "p" (OCI's device types)
  std::uint32_t file_mode = 0666;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string access = "rwm";  // what the device cgroup allows
};

struct BundleInputs {
  std::string output_dir;  // host directory mounted at /workspace/output
  std::vector<DeviceGrant> devices;
  std::vector<CdiMount> gpu_mounts;
  std::vector<std::string> gpu_env;  // from the CDI spec, "KEY=VALUE"
  std::vector<CdiHook> gpu_hooks;    // from the CDI spec, by hookName
  std::vector<std::uint32_t> additional_gids;
  // The container's root when it is not the image's own directory: a
  // per-job overlay over it (see job_layer.h), which the hooks may write.
  std::string rootfs;
  // crun (1.8) makes the root read-only before it runs createContainer
  // hooks, which then cannot write the ld cache: for crun GPU jobs with
  // such hooks the root (the job's own layer, never the image) stays
  // writable where the image's permissions let the job's uid write.
  bool rootfs_writable = false;
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
