#pragma once

// GPUs from a Container Device Interface (CDI) spec, the YAML or JSON file
// that `nvidia-ctk cdi generate` writes to /etc/cdi/nvidia.yaml: devices by
// name (index and "GPU-<uuid>"), each with its device nodes, and edits that
// every GPU job needs (nvidiactl, nvidia-uvm, driver library mounts, env).
// Text in, a spec out: no I/O.

#include <map>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace sluss::sandbox {

struct CdiDeviceNode {
  std::string path;       // in the container: "/dev/nvidia0"
  std::string host_path;  // on the host; defaults to `path`
};

struct CdiMount {
  std::string host_path;
  std::string container_path;
  std::vector<std::string> options;
};

struct CdiEdits {
  std::vector<std::string> env;  // "KEY=VALUE"
  std::vector<CdiDeviceNode> device_nodes;
  std::vector<CdiMount> mounts;
};

struct CdiSpec {
  std::string kind;                        // "nvidia.com/gpu"
  std::map<std::string, CdiEdits> devices; // by name
  CdiEdits common;                         // spec-level containerEdits
  // From a mounted libcuda.so.<version> or libnvidia-ml.so.<version>; empty
  // when the spec names none.
  std::string driver_version;

  // The GPU names that are UUIDs ("GPU-..." or "MIG-..."), sorted: the
  // inventory. When there are none, every name but "all".
  std::vector<std::string> Inventory() const;
};

core::Result<CdiSpec> ParseCdiSpec(std::string_view text);

// The UUID of each NVIDIA GPU by its device minor (the N of /dev/nvidiaN),
// from the driver's /proc/driver/nvidia/gpus/<pci>/information files
// ("Device Minor:" and "GPU UUID:" lines) under `dir`. Empty when there is
// no driver; a file without both lines is skipped.
std::map<int, std::string> GpuUuidsByMinor(const std::string& dir);

// The edits for a job given `names`: the common edits, then each device's,
// device nodes deduplicated by path. An unknown name is an error naming it.
core::Result<CdiEdits> ResolveGpus(const CdiSpec& spec,
                                   const std::vector<std::string>& names);

}  // namespace sluss::sandbox
