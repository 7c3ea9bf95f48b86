#include "sandbox/run_spec.h"

#include <nlohmann/json.hpp>

#include "core/strings.h"

namespace sluss::sandbox {
namespace {

using core::InvalidArgument;
using core::StrCat;
using nlohmann::json;

// Reads `j[key]` into `out` when present; an error names the field.
template <typename T>
core::Result<void> Get(const json& j, const char* key, T& out,
                       std::string_view prefix = {}) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  try {
    out = it->get<T>();
  } catch (const json::exception&) {
    return InvalidArgument(StrCat("spec field ", prefix, key, " has the wrong type"),
                           StrCat(prefix, key));
  }
  return {};
}

core::Result<void> GetSeconds(const json& j, const char* key,
                              std::chrono::seconds& out) {
  std::int64_t s = out.count();
  if (auto r = Get(j, key, s, "limits."); !r) return r;
  if (s < 0) return InvalidArgument(StrCat("limits.", key, " is negative"));
  out = std::chrono::seconds(s);
  return {};
}

}  // namespace

core::Result<RunSpec> ParseRunSpec(const json& j) {
  if (!j.is_object()) return InvalidArgument("the job spec is not a JSON object");
  RunSpec s;
  if (auto r = Get(j, "version", s.version); !r) return std::unexpected(r.error());
  if (s.version != kSpecVersion)
    return InvalidArgument(StrCat("job spec version ", s.version,
                                  " is not supported (this sluss-run reads ",
                                  kSpecVersion, ")"), "version");
  for (auto r : {Get(j, "id", s.id), Get(j, "attempt_key", s.attempt_key),
                 Get(j, "runtime", s.runtime),
                 Get(j, "runtime_root", s.runtime_root),
                 Get(j, "runtime_version", s.runtime_version),
                 Get(j, "cgroup_root", s.cgroup_root),
                 Get(j, "cgroup_parent", s.cgroup_parent),
                 Get(j, "output_fs", s.output_fs), Get(j, "argv", s.argv),
                 Get(j, "env", s.env), Get(j, "workspace", s.workspace),
                 Get(j, "outputs", s.outputs), Get(j, "uid", s.uid),
                 Get(j, "gid", s.gid), Get(j, "gpus", s.gpus),
                 Get(j, "gpus_from_slurm", s.gpus_from_slurm),
                 Get(j, "cdi_spec", s.cdi_spec)}) {
    if (!r) return std::unexpected(r.error());
  }
  if (auto it = j.find("image"); it != j.end() && it->is_object()) {
    for (auto r : {Get(*it, "name", s.image.name, "image."),
                   Get(*it, "digest", s.image.digest, "image."),
                   Get(*it, "rootfs", s.image.rootfs, "image."),
                   Get(*it, "host_binds", s.image.host_binds, "image.")}) {
      if (!r) return std::unexpected(r.error());
    }
  }
  if (auto it = j.find("datasets"); it != j.end() && it->is_array()) {
    for (const auto& d : *it) {
      DatasetMount m;
      for (auto r : {Get(d, "name", m.name, "datasets[]."),
                     Get(d, "version", m.version, "datasets[]."),
                     Get(d, "path", m.path, "datasets[].")}) {
        if (!r) return std::unexpected(r.error());
      }
      s.datasets.push_back(std::move(m));
    }
  }
  if (auto it = j.find("inputs"); it != j.end() && it->is_array()) {
    for (const auto& d : *it) {
      InputFile f;
      for (auto r : {Get(d, "path", f.path, "inputs[]."),
                     Get(d, "source", f.source, "inputs[].")}) {
        if (!r) return std::unexpected(r.error());
      }
      s.inputs.push_back(std::move(f));
    }
  }
  if (auto it = j.find("limits"); it != j.end() && it->is_object()) {
    auto& l = s.limits;
    for (auto r : {Get(*it, "milli_cpus", l.milli_cpus, "limits."),
                   Get(*it, "memory_bytes", l.memory_bytes, "limits."),
                   Get(*it, "pids", l.pids, "limits."),
                   Get(*it, "output_bytes", l.output_bytes, "limits."),
                   Get(*it, "tmp_bytes", l.tmp_bytes, "limits."),
                   Get(*it, "log_bytes", l.log_bytes, "limits."),
                   Get(*it, "nofile", l.nofile, "limits."),
                   GetSeconds(*it, "time_limit_s", l.time_limit),
                   GetSeconds(*it, "kill_grace_s", l.kill_grace)}) {
      if (!r) return std::unexpected(r.error());
    }
  }

  // What must hold for the sandbox to be what it claims.
  if (s.id.empty() || s.id.size() > 64 ||
      s.id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
          std::string::npos)
    return InvalidArgument("id must be 1-64 of [a-z0-9-]", "id");
  if (s.argv.empty()) return InvalidArgument("argv is empty", "argv");
  if (s.image.rootfs.empty() || s.image.rootfs[0] != '/')
    return InvalidArgument("image.rootfs must be an absolute path", "image.rootfs");
  if (s.workspace.empty() || s.workspace[0] != '/')
    return InvalidArgument("workspace must be an absolute path", "workspace");
  if (s.uid < kMinJobUid || s.gid < kMinJobUid)
    return InvalidArgument(StrCat("uid and gid must be at least ", kMinJobUid,
                                  " (never a host account)"), "uid");
  if (s.output_fs != "loop" && s.output_fs != "none")
    return InvalidArgument("output_fs must be loop or none", "output_fs");
  if (s.cgroup_parent.empty() || s.cgroup_parent[0] != '/')
    return InvalidArgument("cgroup_parent must be absolute", "cgroup_parent");
  for (const auto& d : s.datasets) {
    if (d.name.empty() || d.name.find('/') != std::string::npos ||
        d.name.starts_with('.'))
      return InvalidArgument(StrCat("dataset name ", core::Quote(d.name),
                                    " is not a plain name"), "datasets[].name");
  }
  for (const auto& in : s.inputs) {
    if (!in.path.starts_with("output/") ||
        in.path.find("..") != std::string::npos)
      return InvalidArgument(StrCat("input ", core::Quote(in.path),
                                    " is not under output/"), "inputs[].path");
  }
  const auto& l = s.limits;
  if (l.milli_cpus <= 0 || l.memory_bytes <= 0 || l.pids <= 0 ||
      l.time_limit.count() <= 0 || l.output_bytes <= 0 || l.tmp_bytes <= 0 ||
      l.log_bytes <= 0 || l.nofile <= 0)
    return InvalidArgument("every limit must be positive", "limits");
  return s;
}

json ToJson(const RunSpec& s) {
  json datasets = json::array();
  for (const auto& d : s.datasets)
    datasets.push_back({{"name", d.name}, {"version", d.version}, {"path", d.path}});
  json inputs = json::array();
  for (const auto& f : s.inputs)
    inputs.push_back({{"path", f.path}, {"source", f.source}});
  const auto& l = s.limits;
  return {
      {"version", s.version},
      {"id", s.id},
      {"attempt_key", s.attempt_key},
      {"runtime", s.runtime},
      {"runtime_root", s.runtime_root},
      {"runtime_version", s.runtime_version},
      {"cgroup_root", s.cgroup_root},
      {"cgroup_parent", s.cgroup_parent},
      {"output_fs", s.output_fs},
      {"image", {{"name", s.image.name}, {"digest", s.image.digest},
                 {"rootfs", s.image.rootfs}, {"host_binds", s.image.host_binds}}},
      {"argv", s.argv},
      {"env", s.env},
      {"workspace", s.workspace},
      {"datasets", datasets},
      {"inputs", inputs},
      {"outputs", s.outputs},
      {"limits", {{"milli_cpus", l.milli_cpus}, {"memory_bytes", l.memory_bytes},
                  {"pids", l.pids}, {"time_limit_s", l.time_limit.count()},
                  {"output_bytes", l.output_bytes}, {"tmp_bytes", l.tmp_bytes},
                  {"log_bytes", l.log_bytes}, {"nofile", l.nofile},
                  {"kill_grace_s", l.kill_grace.count()}}},
      {"uid", s.uid},
      {"gid", s.gid},
      {"gpus", s.gpus},
      {"gpus_from_slurm", s.gpus_from_slurm},
      {"cdi_spec", s.cdi_spec},
  };
}

}  // namespace sluss::sandbox
