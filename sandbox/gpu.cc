#include "sandbox/gpu.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/strings.h"
#include "sandbox/cdi.h"
#include "sandbox/internal/files.h"
#include "sandbox/job_layer.h"
#include "sandbox/sha256.h"

namespace sluss::sandbox {
namespace {

using core::StrCat;

const char* TypeOf(mode_t mode) {
  if (S_ISCHR(mode)) return "c";
  if (S_ISBLK(mode)) return "b";
  if (S_ISFIFO(mode)) return "p";
  return nullptr;
}

// The grant for one CDI device node: what the spec says, the rest from the
// host's node (as the CDI specification has runtimes fill it in).
core::Result<DeviceGrant> Grant(const CdiDeviceNode& dn) {
  struct stat st;
  if (::stat(dn.host_path.c_str(), &st) != 0)
    return core::Internal(StrCat("GPU device node ", dn.host_path, " is missing on this host"));
  const char* host_type = TypeOf(st.st_mode);
  if (!host_type || S_ISBLK(st.st_mode))
    return core::Internal(StrCat("GPU device node ", dn.host_path,
                                 " is not a character device"));
  DeviceGrant g;
  g.path = dn.path;
  g.type = dn.type.empty() ? host_type : dn.type;
  // "u" (unbuffered) is a character device.
  if ((g.type == "u" ? "c" : g.type) != host_type)
    return core::Internal(StrCat("GPU device node ", dn.host_path, " is of type ", host_type,
                                 " on this host, but the CDI spec says ", g.type));
  g.major = static_cast<std::int64_t>(major(st.st_rdev));
  g.minor = static_cast<std::int64_t>(minor(st.st_rdev));
  if (dn.major && (*dn.major != g.major || *dn.minor != g.minor))
    return core::Internal(StrCat("GPU device node ", dn.host_path, " is ", g.major, ":", g.minor,
                                 " on this host, but the CDI spec says ", *dn.major, ":",
                                 *dn.minor, " (regenerate the spec: nvidia-ctk cdi generate)"));
  g.file_mode = dn.file_mode.value_or(st.st_mode & 0777);
  g.uid = dn.uid.value_or(0);
  g.gid = dn.gid.value_or(0);
  g.access = dn.permissions.empty() ? "rwm" : dn.permissions;
  return g;
}

// As sshd checks its files: `path` and every directory above it owned by
// root and writable by no one else (a sticky directory such as /tmp
// passes: others cannot replace what root put there).
core::Result<void> CheckRootOwned(const std::string& path, std::string_view what) {
  std::error_code ec;
  const auto real = std::filesystem::canonical(path, ec);
  if (ec) return core::Internal(StrCat(what, " ", path, " cannot be read: ", ec.message()));
  for (auto p = real;; p = p.parent_path()) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0)
      return core::Internal(StrCat(what, " ", path, ": cannot stat ", p.string()));
    const bool sticky_dir = S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX);
    if (st.st_uid != 0)
      return core::Fail(core::ErrorCode::kPermissionDenied,
                        StrCat(what, " ", path, " is refused: ", p.string(), " is owned by uid ",
                               st.st_uid, ", not root"));
    if ((st.st_mode & 022) && !sticky_dir)
      return core::Fail(core::ErrorCode::kPermissionDenied,
                        StrCat(what, " ", path, " is refused: ", p.string(),
                               " is writable by its group or by others"));
    if (p == p.root_path()) break;
  }
  return {};
}

// CheckCdiSafety with links resolved, plus what needs the host: device
// nodes that are block devices there, and who may change the spec file
// and the hooks' programs.
core::Result<void> CheckCdiSpecTrust(const std::string& cdi_spec, const CdiSpec& cdi,
                                     const std::vector<std::string>& private_dirs) {
  if (auto r = CheckRootOwned(cdi_spec, "the CDI spec"); !r) return r;
  CdiSpec resolved = cdi;
  std::vector<std::string> private_real;
  for (const auto& d : private_dirs) {
    std::error_code ec;
    auto real = std::filesystem::weakly_canonical(d, ec);
    private_real.push_back(ec ? d : real.string());
  }
  auto each = [&](auto&& f) -> core::Result<void> {
    if (auto r = f(resolved.common, std::string("the spec's containerEdits")); !r) return r;
    for (auto& [name, edits] : resolved.devices)
      if (auto r = f(edits, StrCat("device ", core::Quote(name))); !r) return r;
    return {};
  };
  auto host = [&](CdiEdits& e, const std::string& where) -> core::Result<void> {
    for (auto& m : e.mounts) {
      if (m.type == "tmpfs") continue;  // CheckCdiSafety refuses other types
      std::error_code ec;
      auto real = std::filesystem::weakly_canonical(m.host_path, ec);
      if (!ec) m.host_path = real.string();
    }
    for (const auto& dn : e.device_nodes) {
      struct stat st;
      if (::stat(dn.host_path.c_str(), &st) == 0 && S_ISBLK(st.st_mode))
        return core::InvalidArgument(StrCat(where, ": device node ", dn.path, " (host ",
                                            dn.host_path,
                                            ") is refused: it is a block device, and GPU "
                                            "nodes are character devices"));
    }
    for (const auto& h : e.hooks)
      if (auto r = CheckRootOwned(h.path, StrCat(where, ": the hook program")); !r) return r;
    return {};
  };
  if (auto r = each(host); !r) return r;
  return CheckCdiSafety(resolved, private_real);
}

bool IsUuid(const std::string& name) {
  return name.starts_with("GPU-") || name.starts_with("MIG-");
}

}  // namespace

core::Result<void> PrepareGpus(const RunSpec& spec, const std::string& job_dir,
                               BundleInputs& inputs, core::JobResult& result) {
  auto text = internal::ReadText(spec.cdi_spec);
  if (!text)
    return core::Internal(
        StrCat("GPUs asked for, but the CDI spec cannot be read: ", text.error().message));
  result.cdi_spec_sha256 = Sha256Hex(*text);
  auto cdi = ParseCdiSpec(*text);
  if (!cdi) return std::unexpected(cdi.error());
  if (auto safe = CheckCdiSpecTrust(spec.cdi_spec, *cdi, {}); !safe)
    return core::Fail(safe.error().code, StrCat(spec.cdi_spec, ": ", safe.error().message));
  auto edits = ResolveGpus(*cdi, spec.gpus);
  if (!edits) return std::unexpected(edits.error());
  for (const auto& dn : edits->device_nodes) {
    auto g = Grant(dn);
    if (!g) return std::unexpected(g.error());
    inputs.devices.push_back(std::move(*g));
  }
  // The GPUs' UUIDs for provenance: the names that are UUIDs, else by the
  // minor of each /dev/nvidiaN the job was given.
  const auto uuids = GpuUuidsByMinor(kNvidiaProcGpus);
  for (const auto& name : spec.gpus)
    if (IsUuid(name)) result.gpu_uuids.push_back(name);
  if (result.gpu_uuids.empty()) {
    for (const auto& d : inputs.devices) {
      if (!d.path.starts_with("/dev/nvidia") || d.path.size() == 11 ||
          d.path.find_first_not_of("0123456789", 11) != std::string::npos)
        continue;
      if (auto it = uuids.find(static_cast<int>(d.minor)); it != uuids.end())
        result.gpu_uuids.push_back(it->second);
    }
  }
  inputs.gpu_mounts = edits->mounts;
  inputs.gpu_env = edits->env;
  inputs.gpu_hooks = edits->hooks;
  inputs.additional_gids = edits->additional_gids;
  result.gpus = spec.gpus;
  result.gpu_driver_version = cdi->driver_version;
  // Mount targets and hooks write into the root: the job's own layer.
  if (!edits->mounts.empty() || !edits->hooks.empty()) {
    auto root = MountJobLayer(spec.image.rootfs, job_dir);
    if (!root) return std::unexpected(root.error());
    inputs.rootfs = *root;
    const bool create_container_hooks =
        std::any_of(edits->hooks.begin(), edits->hooks.end(),
                    [](const CdiHook& h) { return h.hook_name == "createContainer"; });
    inputs.rootfs_writable =
        create_container_hooks && std::filesystem::path(spec.runtime).filename() == "crun";
  }
  return {};
}

core::Result<std::vector<std::string>> NodeGpus(
    const std::optional<std::vector<std::string>>& configured, const std::string& cdi_spec,
    const std::vector<std::string>& private_dirs) {
  if (configured && configured->empty()) return *configured;
  std::error_code ec;
  // No spec (yet): the configured names stand, and a job given one fails
  // at its start saying the spec cannot be read (the caller warns).
  if (!std::filesystem::exists(cdi_spec, ec))
    return configured ? *configured : std::vector<std::string>{};
  auto text = internal::ReadText(cdi_spec);
  if (!text)
    return core::Internal(StrCat("the CDI spec ", cdi_spec, ": ", text.error().message));
  auto cdi = ParseCdiSpec(*text);
  if (!cdi) return core::InvalidArgument(StrCat(cdi_spec, ": ", cdi.error().message));
  if (auto safe = CheckCdiSpecTrust(cdi_spec, *cdi, private_dirs); !safe)
    return core::Fail(safe.error().code, StrCat(cdi_spec, ": ", safe.error().message));
  if (!configured) return cdi->Inventory();
  for (const auto& name : *configured) {
    if (auto r = ResolveGpus(*cdi, {name}); !r)
      return core::NotFound(StrCat("node.gpus: ", r.error().message, " (", cdi_spec,
                                   "; its GPUs: ", core::Join(cdi->Inventory(), ", "), ")"));
  }
  // Two names of one device would let the scheduler give it to two jobs
  // at once.
  for (std::size_t i = 0; i < configured->size(); ++i) {
    for (std::size_t j = i + 1; j < configured->size(); ++j) {
      const auto& a = (*configured)[i];
      const auto& b = (*configured)[j];
      if (auto node = SharedGpuNode(*cdi, a, b); !node.empty())
        return core::InvalidArgument(StrCat(
            "node.gpus: ", core::Quote(a), " and ", core::Quote(b), " are one GPU (both give ",
            node, " in ", cdi_spec, "), which two jobs would then share: name each GPU once"));
    }
  }
  return *configured;
}

core::Result<std::vector<std::string>> SlurmGpus(const std::map<std::string, std::string>& env,
                                                 int count) {
  std::string var, list;
  for (const char* name : {"SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "CUDA_VISIBLE_DEVICES"}) {
    if (auto it = env.find(name); it != env.end() && !it->second.empty()) {
      var = name;
      list = it->second;
      break;
    }
  }
  if (var.empty())
    return core::Internal(StrCat("the job asked for ", count, " GPU(s), but Slurm gave it none ",
                                 "(no SLURM_JOB_GPUS, SLURM_STEP_GPUS or CUDA_VISIBLE_DEVICES: ",
                                 "is gres/gpu configured on this node?)"));
  std::vector<std::string> gpus;
  for (std::size_t at = 0; at <= list.size();) {
    const auto comma = list.find(',', at);
    std::string one = list.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    at = comma == std::string::npos ? list.size() + 1 : comma + 1;
    // An index ("3"), or a UUID ("GPU-...", "MIG-..."): CDI names. Anything
    // else (Slurm's "NoDevFiles", a path) names no GPU the job may have.
    const bool index = !one.empty() && one.size() <= 4 &&
                       std::all_of(one.begin(), one.end(), [](char c) { return c >= '0' && c <= '9'; });
    const bool uuid = (one.starts_with("GPU-") || one.starts_with("MIG-")) && one.size() <= 64 &&
                      std::all_of(one.begin(), one.end(), [](char c) {
                        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                               (c >= 'A' && c <= 'Z') || c == '-' || c == '/';
                      });
    if (!index && !uuid)
      return core::Internal(StrCat(var, "=", core::Quote(list), ": ", core::Quote(one),
                                   " is not a GPU index or UUID"));
    if (std::find(gpus.begin(), gpus.end(), one) != gpus.end())
      return core::Internal(StrCat(var, "=", core::Quote(list), " names GPU ", one, " twice"));
    gpus.push_back(std::move(one));
  }
  if (static_cast<int>(gpus.size()) != count)
    return core::Internal(StrCat("Slurm gave the job ", gpus.size(), " GPU(s) (", var, "=", list,
                                 "), and it asked for ", count));
  return gpus;
}

std::map<std::string, std::string> ProcessEnv() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string_view::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

}  // namespace sluss::sandbox
