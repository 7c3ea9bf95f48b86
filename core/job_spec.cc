#include "core/job_spec.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/glob.h"
#include "core/internal/json_get.h"
#include "core/strings.h"

namespace sluss::core {
namespace {

using internal::All;
using internal::Get;
using nlohmann::json;

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

json ResourcesJson(const ResourceRequest& r) {
  json j = json::object();
  if (r.gpus) j["gpus"] = *r.gpus;
  if (r.milli_cpus) j["milli_cpus"] = *r.milli_cpus;
  if (r.memory_bytes) j["memory_bytes"] = *r.memory_bytes;
  if (r.time_limit) j["time_limit_s"] = r.time_limit->count();
  if (r.disk_bytes) j["disk_bytes"] = *r.disk_bytes;
  return j;
}

template <typename T>
Result<void> GetOptional(const json& j, const char* key, std::optional<T>& out) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return {};
  T v{};
  if (auto r = Get(j, key, v, "resources."); !r) return r;
  out = v;
  return {};
}

Result<ResourceRequest> ResourcesFromJson(const json& j) {
  ResourceRequest r;
  std::optional<std::int64_t> seconds;
  if (auto g = All({GetOptional(j, "gpus", r.gpus), GetOptional(j, "milli_cpus", r.milli_cpus),
                    GetOptional(j, "memory_bytes", r.memory_bytes),
                    GetOptional(j, "time_limit_s", seconds),
                    GetOptional(j, "disk_bytes", r.disk_bytes)});
      !g)
    return std::unexpected(g.error());
  if (seconds) r.time_limit = std::chrono::seconds(*seconds);
  if ((r.gpus && *r.gpus < 0) || (r.milli_cpus && *r.milli_cpus <= 0) ||
      (r.memory_bytes && *r.memory_bytes <= 0) || (seconds && *seconds <= 0) ||
      (r.disk_bytes && *r.disk_bytes <= 0))
    return InvalidArgument("the job spec's resources must be positive", "resources");
  return r;
}

}  // namespace

bool JobSpec::Retries(StatusCode status, int attempt) const {
  return attempt <= retries.max &&
         std::find(retries.on.begin(), retries.on.end(), status) != retries.on.end();
}

std::vector<std::string> JobSpec::AllOutputs() const {
  std::vector<std::string> all = outputs.sensitive;
  all.insert(all.end(), outputs.releasable.begin(), outputs.releasable.end());
  return all;
}

std::string JobSpec::LevelOf(std::string_view path) const {
  for (const auto& g : outputs.releasable)
    if (GlobMatch(g, path)) return "releasable";
  return "sensitive";
}

OutputControls JobSpec::ControlsOf(std::string_view path) const {
  for (const auto& [glob, c] : outputs.controls)
    if (GlobMatch(glob, path)) return c;
  return {};
}

JobSpec SpecOf(const Action& a) {
  JobSpec s;
  s.name = a.name;
  s.image = a.image;
  s.argv = a.argv;
  s.needs = Sorted(a.needs);
  std::vector<DatasetRef> refs = a.datasets;
  std::stable_sort(refs.begin(), refs.end(),
                   [](const auto& x, const auto& y) { return x.name < y.name; });
  for (const auto& d : refs) s.datasets.push_back({d.name, d.version, "", ""});
  s.resources = a.resources;
  s.outputs = {Sorted(a.outputs.sensitive), Sorted(a.outputs.releasable), a.outputs.controls};
  s.code = Sorted(a.code);
  s.retries.max = a.retries.max;
  s.retries.on = a.retries.on;
  std::sort(s.retries.on.begin(), s.retries.on.end(),
            [](StatusCode x, StatusCode y) { return Name(x) < Name(y); });
  s.env = a.env;
  std::sort(s.env.begin(), s.env.end());
  s.priority = a.priority;
  return s;
}

json CacheKeyJson(const JobSpec& s) {
  json datasets = json::array();
  for (const auto& d : s.datasets) {
    // Before admission only name and version are known (and were all that
    // the canonical action form held); after it, the resolved version.
    if (d.id.empty() && d.permit.empty())
      datasets.push_back({{"name", d.name}, {"version", d.version}});
    else
      datasets.push_back(
          {{"name", d.name}, {"version", d.version}, {"id", d.id}, {"permit", d.permit}});
  }
  std::vector<std::string> on;
  for (StatusCode c : s.retries.on) on.emplace_back(Name(c));
  json env = json::object();
  for (const auto& [k, v] : s.env) env[k] = v;
  return json{
      {"name", s.name},
      {"image", s.image},
      {"argv", s.argv},
      {"needs", s.needs},
      {"datasets", datasets},
      {"resources", ResourcesJson(s.resources)},
      {"outputs", {{"sensitive", s.outputs.sensitive}, {"releasable", s.outputs.releasable}}},
      {"code", s.code},
      {"retries", {{"max", s.retries.max}, {"on", Sorted(on)}}},
      {"env", env},
  };
}

json ToJson(const CommitRecord& c) {
  return {{"author", c.author},
          {"committer", c.committer},
          {"time", c.time},
          {"message", c.message},
          {"signature",
           {{"status", c.signature.status},
            {"format", c.signature.format},
            {"signer", c.signature.signer},
            {"detail", c.signature.detail}}}};
}

json ToJson(const JobSpec& s) {
  json j = CacheKeyJson(s);
  j["version"] = s.version;
  j["image_digest"] = s.image_digest;
  if (s.priority != 0) j["priority"] = s.priority;
  // Not in the cache key: what the checks should know does not change what
  // the job computes. Absent when nothing is declared, as before.
  if (!s.outputs.controls.empty()) {
    json controls = json::object();
    for (const auto& [glob, c] : s.outputs.controls) {
      json cj = {{"counts", c.counts}, {"round", c.round}};
      if (c.zeros_disclosive) cj["zeros_disclosive"] = *c.zeros_disclosive;
      controls[glob] = std::move(cj);
    }
    j["outputs"]["controls"] = std::move(controls);
  }
  const Submission& sub = s.submitted;
  if (!sub.repository.empty() || !sub.tree.empty() || !sub.pipeline_sha256.empty() ||
      sub.commit) {
    j["submitted"] = {{"repository", sub.repository},
                      {"tree", sub.tree},
                      {"pipeline_sha256", sub.pipeline_sha256}};
    if (sub.commit) j["submitted"]["commit"] = ToJson(*sub.commit);
  }
  return j;
}

Result<JobSpec> JobSpecFromJson(const json& j) {
  if (!j.is_object()) return InvalidArgument("the job spec is not a JSON object");
  JobSpec s;
  s.version = 1;  // rows from before the version key
  if (auto g = All({Get(j, "version", s.version), Get(j, "name", s.name), Get(j, "image", s.image),
                    Get(j, "argv", s.argv), Get(j, "needs", s.needs), Get(j, "code", s.code),
                    Get(j, "priority", s.priority), Get(j, "image_digest", s.image_digest)});
      !g)
    return std::unexpected(g.error());
  if (s.version < 1 || s.version > kJobSpecVersion)
    return InvalidArgument(StrCat("job spec version ", s.version, " is not one this sluss reads (1 to ",
                                  kJobSpecVersion, ")"),
                           "version");
  if (auto it = j.find("datasets"); it != j.end() && it->is_array()) {
    for (const auto& d : *it) {
      ResolvedDataset r;
      if (auto g = All({Get(d, "name", r.name, "datasets[]."), Get(d, "version", r.version, "datasets[]."),
                        Get(d, "id", r.id, "datasets[]."), Get(d, "permit", r.permit, "datasets[].")});
          !g)
        return std::unexpected(g.error());
      s.datasets.push_back(std::move(r));
    }
  }
  if (auto it = j.find("resources"); it != j.end()) {
    auto r = ResourcesFromJson(*it);
    if (!r) return std::unexpected(r.error());
    s.resources = *r;
  }
  if (auto it = j.find("outputs"); it != j.end()) {
    if (auto g = All({Get(*it, "sensitive", s.outputs.sensitive, "outputs."),
                      Get(*it, "releasable", s.outputs.releasable, "outputs.")});
        !g)
      return std::unexpected(g.error());
    if (auto c = it->find("controls"); c != it->end() && c->is_object()) {
      for (const auto& [glob, cj] : c->items()) {
        OutputControls oc;
        bool zeros = true;
        bool has_zeros = cj.is_object() && cj.contains("zeros_disclosive");
        if (auto g = All({Get(cj, "counts", oc.counts, "outputs.controls."),
                          Get(cj, "round", oc.round, "outputs.controls."),
                          has_zeros ? Get(cj, "zeros_disclosive", zeros, "outputs.controls.")
                                    : Result<void>{}});
            !g)
          return std::unexpected(g.error());
        if (has_zeros) oc.zeros_disclosive = zeros;
        s.outputs.controls[glob] = std::move(oc);
      }
    }
  }
  if (auto it = j.find("retries"); it != j.end()) {
    std::vector<std::string> on;
    bool has_on = it->is_object() && it->contains("on");
    if (auto g = All({Get(*it, "max", s.retries.max, "retries."), Get(*it, "on", on, "retries.")}); !g)
      return std::unexpected(g.error());
    if (has_on) {
      s.retries.on.clear();
      for (const auto& name : on) {
        auto code = ParseStatusCode(name);
        if (!code) return InvalidArgument(StrCat("retries.on: unknown status ", Quote(name)), "retries.on");
        s.retries.on.push_back(*code);
      }
    }
  }
  if (auto it = j.find("env"); it != j.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) return InvalidArgument(StrCat("env.", k, " is not a string"), "env");
      s.env.emplace_back(k, v.get<std::string>());
    }
  }
  if (auto it = j.find("submitted"); it != j.end() && it->is_object()) {
    Submission& sub = s.submitted;
    if (auto g = All({Get(*it, "repository", sub.repository, "submitted."),
                      Get(*it, "tree", sub.tree, "submitted."),
                      Get(*it, "pipeline_sha256", sub.pipeline_sha256, "submitted.")});
        !g)
      return std::unexpected(g.error());
    if (auto c = it->find("commit"); c != it->end() && c->is_object()) {
      CommitRecord r;
      const char* p = "submitted.commit.";
      if (auto g = All({Get(*c, "author", r.author, p), Get(*c, "committer", r.committer, p),
                        Get(*c, "time", r.time, p), Get(*c, "message", r.message, p)});
          !g)
        return std::unexpected(g.error());
      if (auto sig = c->find("signature"); sig != c->end()) {
        const char* q = "submitted.commit.signature.";
        if (auto g = All({Get(*sig, "status", r.signature.status, q),
                          Get(*sig, "format", r.signature.format, q),
                          Get(*sig, "signer", r.signature.signer, q),
                          Get(*sig, "detail", r.signature.detail, q)});
            !g)
          return std::unexpected(g.error());
      }
      sub.commit = std::move(r);
    }
  }
  return s;
}

Result<JobSpec> ParseJobSpec(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return InvalidArgument("the job spec is not JSON");
  return JobSpecFromJson(j);
}

Resources EffectiveResources(const ResourceRequest& r, const ResourceDefaults& d,
                             const Quota& quota) {
  Resources out;
  out.gpus = r.gpus.value_or(0);
  out.milli_cpus = r.milli_cpus.value_or(d.milli_cpus);
  out.memory_bytes = r.memory_bytes.value_or(d.memory_bytes);
  out.time_limit = r.time_limit ? *r.time_limit
                                : quota.per_job.max_time ? *quota.per_job.max_time : d.time_limit;
  out.disk_bytes = r.disk_bytes.value_or(d.disk_bytes);
  return out;
}

json ToJson(const JobResult& r) {
  json outputs = json::array();
  for (const auto& o : r.outputs)
    outputs.push_back({{"path", o.path}, {"size", o.size}, {"sha256", o.sha256}});
  return {
      {"status", r.status},
      {"message", r.message},
      {"exit_code", r.exit_code ? json(*r.exit_code) : json()},
      {"signal", r.signal ? json(*r.signal) : json()},
      {"started_at", r.started_at},
      {"ended_at", r.ended_at},
      {"wall_seconds", r.wall_seconds},
      {"cpu_seconds", r.cpu_seconds},
      {"memory_peak_bytes", r.memory_peak_bytes},
      {"pids_peak", r.pids_peak},
      {"oom_kills", r.oom_kills},
      {"limits",
       {{"milli_cpus", r.limit_milli_cpus},
        {"memory_bytes", r.limit_memory_bytes},
        {"time_limit_s", r.limit_time_seconds},
        {"output_bytes", r.limit_output_bytes}}},
      {"outputs", outputs},
      {"outputs_count", r.outputs_count},
      {"outputs_manifest_sha256", r.outputs_manifest_sha256},
      {"outputs_bytes", r.outputs_bytes},
      {"gpus", r.gpus},
      {"gpu_uuids", r.gpu_uuids},
      {"gpu_driver_version", r.gpu_driver_version},
      {"cdi_spec_sha256", r.cdi_spec_sha256},
      {"gpu_usage", r.gpu_usage.source.empty()
                        ? json(nullptr)
                        : json{{"source", r.gpu_usage.source},
                               {"samples", r.gpu_usage.samples},
                               {"utilization_pct", r.gpu_usage.utilization_pct},
                               {"memory_peak_bytes", r.gpu_usage.memory_peak_bytes},
                               {"energy_joules", r.gpu_usage.energy_joules},
                               {"processes", r.gpu_usage.processes}}},
      {"runtime", r.runtime},
      {"runtime_version", r.runtime_version},
      {"cgroup_version", r.cgroup_version},
      {"config_sha256", r.config_sha256},
      {"seccomp_sha256", r.seccomp_sha256},
      {"output_fs", r.output_fs},
      {"image_digest", r.image_digest},
  };
}

Result<JobResult> JobResultFromJson(const json& j) {
  if (!j.is_object()) return InvalidArgument("result.json is not an object");
  JobResult r;
  int exit_code = 0, signal = 0;
  const bool has_exit = j.contains("exit_code") && !j["exit_code"].is_null();
  const bool has_signal = j.contains("signal") && !j["signal"].is_null();
  if (auto g = All({Get(j, "status", r.status), Get(j, "message", r.message),
                    Get(j, "exit_code", exit_code), Get(j, "signal", signal),
                    Get(j, "started_at", r.started_at), Get(j, "ended_at", r.ended_at),
                    Get(j, "wall_seconds", r.wall_seconds), Get(j, "cpu_seconds", r.cpu_seconds),
                    Get(j, "memory_peak_bytes", r.memory_peak_bytes),
                    Get(j, "pids_peak", r.pids_peak), Get(j, "oom_kills", r.oom_kills),
                    Get(j, "gpus", r.gpus), Get(j, "gpu_uuids", r.gpu_uuids),
                    Get(j, "gpu_driver_version", r.gpu_driver_version),
                    Get(j, "cdi_spec_sha256", r.cdi_spec_sha256), Get(j, "runtime", r.runtime),
                    Get(j, "runtime_version", r.runtime_version),
                    Get(j, "cgroup_version", r.cgroup_version),
                    Get(j, "config_sha256", r.config_sha256),
                    Get(j, "seccomp_sha256", r.seccomp_sha256), Get(j, "output_fs", r.output_fs),
                    Get(j, "image_digest", r.image_digest)});
      !g)
    return std::unexpected(g.error());
  if (auto it = j.find("limits"); it != j.end()) {
    const char* p = "limits.";
    if (auto g = All({Get(*it, "milli_cpus", r.limit_milli_cpus, p),
                      Get(*it, "memory_bytes", r.limit_memory_bytes, p),
                      Get(*it, "time_limit_s", r.limit_time_seconds, p),
                      Get(*it, "output_bytes", r.limit_output_bytes, p)});
        !g)
      return std::unexpected(g.error());
  }
  if (auto it = j.find("gpu_usage"); it != j.end() && !it->is_null()) {
    const char* p = "gpu_usage.";
    GpuUsage& u = r.gpu_usage;
    if (auto g = All({Get(*it, "source", u.source, p), Get(*it, "samples", u.samples, p),
                      Get(*it, "utilization_pct", u.utilization_pct, p),
                      Get(*it, "memory_peak_bytes", u.memory_peak_bytes, p),
                      Get(*it, "energy_joules", u.energy_joules, p),
                      Get(*it, "processes", u.processes, p)});
        !g)
      return std::unexpected(g.error());
  }
  if (has_exit) r.exit_code = exit_code;
  if (has_signal) r.signal = signal;
  if (auto it = j.find("outputs"); it != j.end() && it->is_array()) {
    for (const auto& o : *it) {
      OutputFile f;
      if (auto g = All({Get(o, "path", f.path, "outputs[]."), Get(o, "size", f.size, "outputs[]."),
                        Get(o, "sha256", f.sha256, "outputs[].")});
          !g)
        return std::unexpected(g.error());
      r.outputs.push_back(std::move(f));
    }
  }
  if (auto g = All({Get(j, "outputs_count", r.outputs_count),
                    Get(j, "outputs_manifest_sha256", r.outputs_manifest_sha256),
                    Get(j, "outputs_bytes", r.outputs_bytes)});
      !g)
    return std::unexpected(g.error());
  // Results from before the count (and failures that never set it) list
  // every output they have.
  r.outputs_count = std::max(r.outputs_count, static_cast<std::int64_t>(r.outputs.size()));
  if (r.outputs_bytes == 0)
    for (const auto& o : r.outputs) r.outputs_bytes += o.size;
  if (r.status.empty()) return InvalidArgument("result.json has no status", "status");
  return r;
}

std::string FormatOutputManifest(const std::vector<OutputFile>& files) {
  std::string out;
  for (const auto& f : files) {
    out += json{{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}}.dump();
    out += '\n';
  }
  return out;
}

Result<std::vector<OutputFile>> ParseOutputManifest(std::string_view text) {
  std::vector<OutputFile> files;
  std::size_t line = 0;
  while (!text.empty()) {
    ++line;
    const std::size_t nl = text.find('\n');
    const std::string_view one = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    json o = json::parse(one, nullptr, false);
    OutputFile f;
    if (o.is_discarded() || !o.is_object() ||
        !All({Get(o, "path", f.path), Get(o, "size", f.size), Get(o, "sha256", f.sha256)}) ||
        f.path.empty())
      return InvalidArgument(StrCat(kOutputManifest, " line ", line, " is not an output"));
    files.push_back(std::move(f));
  }
  return files;
}

Result<JobResult> ParseJobResult(std::string_view text) {
  if (text.empty()) return NotFound("no attempt has ended");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return InvalidArgument("the job's result is not JSON");
  return JobResultFromJson(j);
}

}  // namespace sluss::core
