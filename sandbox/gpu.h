#pragma once
// A GPU job's devices, from the node's CDI spec: the spec read and
// resolved for the job's GPU names, each device node checked against the
// host's, and the job's own writable layer mounted for the spec's mounts
// and hooks (see job_layer.h). What comes out goes into the OCI bundle
// (BundleInputs) and the job's record (JobResult).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "sandbox/oci.h"
#include "sandbox/run_spec.h"

namespace sluss::sandbox {

// REQUIRES: spec.gpus is not empty. On success `inputs` holds the devices,
// mounts, env, hooks, additional groups and the layer's root, and
// `result` the GPUs' names, UUIDs, the driver's version and the spec's
// hash. An unreadable or invalid spec, an unknown name, a device node that
// is missing on the host or differs from what the spec says: an error
// that names it, and no layer left mounted. The caller unmounts the layer
// (UnmountJobLayer(job_dir)) when the job is over.
core::Result<void> PrepareGpus(const RunSpec& spec, const std::string& job_dir,
                               BundleInputs& inputs, core::JobResult& result);

// The node's GPUs, by the names jobs are given them: `configured` (the
// config's node.gpus) checked against the CDI spec at `cdi_spec`, or when
// nothing is configured, the spec's inventory (CdiSpec::Inventory). No
// spec file: the configured names as they are (GPU jobs then fail at
// start saying the spec cannot be read), or none. A name the spec lacks,
// or a spec that does not parse, is an error naming it: a node must not
// offer GPUs its jobs cannot be given. So is a spec that CheckCdiSafety
// refuses (links resolved; `private_dirs` is slussd's state directory), one
// whose device node is a block device on the host, and a spec file or hook
// program that is not root's or that its group or others may write (the
// file or a directory above it, as sshd checks). PrepareGpus checks the
// same at each job's start, without `private_dirs`.
core::Result<std::vector<std::string>> NodeGpus(
    const std::optional<std::vector<std::string>>& configured, const std::string& cdi_spec,
    const std::vector<std::string>& private_dirs = {});

// The GPUs Slurm allocated to the batch job running this, by the node's
// CDI names: SLURM_JOB_GPUS (the batch step's), else SLURM_STEP_GPUS, else
// CUDA_VISIBLE_DEVICES, each a comma-separated list of GPU indices (which
// are the CDI spec's index names, as nvidia-ctk writes them) or UUIDs.
// Exactly `count` of them, or an error that names the variable: a job is
// never given fewer or more GPUs than it asked for, and never a GPU Slurm
// did not give it. `env` is the environment (a seam for tests).
core::Result<std::vector<std::string>> SlurmGpus(
    const std::map<std::string, std::string>& env, int count);
// This process's environment, for SlurmGpus.
std::map<std::string, std::string> ProcessEnv();

// Where the driver lists its GPUs; a seam for tests.
inline constexpr const char* kNvidiaProcGpus = "/proc/driver/nvidia/gpus";

}  // namespace sluss::sandbox
