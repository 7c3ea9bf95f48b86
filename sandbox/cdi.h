#pragma once

// GPUs from a Container Device Interface (CDI) spec, the YAML or JSON file
// that `nvidia-ctk cdi generate` writes to /etc/cdi/nvidia.yaml: devices by
// name (index "0", "GPU-<uuid>", MIG "0:1" and "MIG-<uuid>", and "all"),
// each with its container edits, and edits that every GPU job needs
// (nvidiactl, nvidia-uvm, driver library mounts, the hooks that make the
// ld cache and the .so.1 links, env). Every edit kind of the CDI
// specification (cncf-tags/container-device-interface, SPEC.md) is read;
// a key that sluss does not know is an error, never dropped. Text in, a
// spec out: no I/O.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace sluss::sandbox {

struct CdiDeviceNode {
  std::string path;       // in the container: "/dev/nvidia0"
  std::string host_path;  // on the host; defaults to `path`
  // "c", "b", "u" (unbuffered character) or "p" (FIFO); empty: the host
  // node's own type.
  std::string type;
  std::optional<std::int64_t> major, minor;  // absent: the host node's
  std::optional<std::uint32_t> file_mode;    // absent: the host node's mode
  std::string permissions;                   // cgroup access, "rwm" when empty
  std::optional<std::uint32_t> uid, gid;     // of the node in the container
};

struct CdiMount {
  std::string host_path;
  std::string container_path;
  std::string type;  // empty: a bind mount
  std::vector<std::string> options;
};

// An OCI hook: `path` run with `args` (args[0] is the program's name) and
// `env`, at `hook_name`, killed after `timeout` seconds when set.
struct CdiHook {
  std::string hook_name;  // prestart, createRuntime, createContainer, ...
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;
};

struct CdiEdits {
  std::vector<std::string> env;  // "KEY=VALUE"
  std::vector<CdiDeviceNode> device_nodes;
  std::vector<CdiMount> mounts;
  std::vector<CdiHook> hooks;
  std::vector<std::uint32_t> additional_gids;
};

struct CdiSpec {
  std::string kind;                        // "nvidia.com/gpu"
  std::map<std::string, CdiEdits> devices; // by name
  CdiEdits common;                         // spec-level containerEdits
  // From a mounted libcuda.so.<version> or libnvidia-ml.so.<version>; empty
  // when the spec names none.
  std::string driver_version;

  // The node's GPUs, one name per device: devices that give the same
  // /dev/nvidia* nodes are one device (nvidia-ctk may list a GPU by index
  // and by UUID), named by index when it has an index name ("0", MIG
  // "0:1"), else by UUID. A GPU with MIG devices is given as its MIG
  // devices (the whole GPU cannot run CUDA while MIG is on). "all" never.
  // Sorted by index, UUIDs after.
  std::vector<std::string> Inventory() const;
};

core::Result<CdiSpec> ParseCdiSpec(std::string_view text);

// The device node by which two of the spec's devices are one: the same
// GPU under two names ("0" and "GPU-<uuid>"), or a GPU and one of its MIG
// devices (whose nodes hold the GPU's). Empty when they are distinct
// devices (two MIG devices of one GPU are), or a name is not in the spec.
std::string SharedGpuNode(const CdiSpec& spec, const std::string& a, const std::string& b);

// The UUID of each NVIDIA GPU by its device minor (the N of /dev/nvidiaN),
// from the driver's /proc/driver/nvidia/gpus/<pci>/information files
// ("Device Minor:" and "GPU UUID:" lines) under `dir`. Empty when there is
// no driver; a file without both lines is skipped.
// What no GPU vendor's spec needs, refused so that a spec an attacker could
// edit, or one generated carelessly, cannot open the host to jobs (the
// spec is applied with root's rights):
// - a mount of another type than bind or tmpfs (overlay, devtmpfs, ...),
//   or a tmpfs with a bind option (which the runtime binds);
// - a bind mount whose host path (lexically normalised; the caller resolves
//   links first) is /, /etc, /root, /home, /proc, /sys, /dev or /boot, a
//   parent of one of them or of a `private_dirs` entry (slussd's state
//   directory, which holds the datasets), or lies inside /root, /home or a
//   `private_dirs` entry;
// - a block device node (GPU nodes are character devices);
// - a hook at a phase that runs in the host's namespaces (prestart,
//   createRuntime, poststart, poststop): nvidia-ctk's hooks are
//   createContainer, and only createContainer and startContainer run in
//   the container's.
// The error names the entry (the spec's containerEdits or a device) and
// why; the caller adds the file's name.
core::Result<void> CheckCdiSafety(const CdiSpec& spec,
                                  const std::vector<std::string>& private_dirs);

std::map<int, std::string> GpuUuidsByMinor(const std::string& dir);

// The edits for a job given `names`: the common edits, then each device's,
// device nodes deduplicated by path, hooks deduplicated (the same hook
// listed by two devices runs once). An unknown name, or "all", is an error
// naming it.
core::Result<CdiEdits> ResolveGpus(const CdiSpec& spec,
                                   const std::vector<std::string>& names);

}  // namespace sluss::sandbox
