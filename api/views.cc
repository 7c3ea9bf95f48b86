#include "api/internal/views.h"

#include "core/job_spec.h"
#include "core/quantity.h"
#include "core/quota.h"

namespace sluss::api::internal {

using nlohmann::json;

namespace {
json Time(const std::optional<core::TimePoint>& t) {
  return t ? json(core::FormatRfc3339(*t)) : json();
}
}  // namespace

json View(const core::Project& p) {
  return {{"name", p.name},
          {"description", p.description},
          {"repo_url", p.repo_url},
          {"branches", p.branches},
          {"quota", core::QuotaToJson(p.quota)},
          {"created_at", core::FormatRfc3339(p.created_at)}};
}

json View(const core::Run& r) {
  return {{"id", r.id.value},
          {"project", r.project},
          {"commit", r.commit},
          {"ref", r.ref},
          {"trigger", r.trigger},
          {"submitted_by", r.submitted_by},
          {"state", core::Name(r.state)},
          {"errors", r.errors},
          {"created_at", core::FormatRfc3339(r.created_at)},
          {"updated_at", core::FormatRfc3339(r.updated_at)}};
}

// What the executor recorded about the last attempt that ended: usage,
// outputs with SHA-256, the runtime. Host paths are not in it.
json ResultView(const std::string& text) {
  auto r = core::ParseJobResult(text);
  if (!r) return json();
  json outputs = json::array();
  for (const auto& o : r->outputs)
    outputs.push_back({{"path", o.path}, {"size", o.size}, {"sha256", o.sha256}});
  auto opt = [](const std::optional<int>& v) { return v ? json(*v) : json(); };
  return {{"status", r->status},
          {"message", r->message},
          {"exit_code", opt(r->exit_code)},
          {"signal", opt(r->signal)},
          {"started_at", r->started_at},
          {"ended_at", r->ended_at},
          {"wall_seconds", r->wall_seconds},
          {"cpu_seconds", r->cpu_seconds},
          {"memory_peak_bytes", r->memory_peak_bytes},
          {"pids_peak", r->pids_peak},
          {"oom_kills", r->oom_kills},
          {"limits",
           {{"milli_cpus", r->limit_milli_cpus},
            {"memory_bytes", r->limit_memory_bytes},
            {"time_limit_s", r->limit_time_seconds},
            {"output_bytes", r->limit_output_bytes}}},
          // At most core::kMaxListedOutputs; the count is of all of them,
          // and the manifest in the job's outputs lists every one.
          {"outputs", outputs},
          {"outputs_count", r->outputs_count},
          {"outputs_manifest",
           r->outputs_manifest_sha256.empty()
               ? json()
               : json{{"name", core::kOutputManifest}, {"sha256", r->outputs_manifest_sha256}}},
          {"gpus", r->gpus},
          {"gpu_driver_version", r->gpu_driver_version},
          {"runtime", r->runtime},
          {"runtime_version", r->runtime_version},
          {"image_digest", r->image_digest},
          {"config_sha256", r->config_sha256},
          {"seccomp_sha256", r->seccomp_sha256},
          {"cgroup_version", r->cgroup_version}};
}

json View(const core::Job& j) {
  json needs = json::array();
  for (auto id : j.needs) needs.push_back(id.value);
  auto spec = core::ParseJobSpec(j.spec_json);
  return {{"id", j.id.value},
          {"run_id", j.run_id.value},
          {"project", j.project},
          {"action", j.action},
          {"state", core::Name(j.state())},
          {"status_code", core::Name(j.status)},
          {"reason", j.reason},
          {"attempt", j.attempt},
          {"needs", needs},
          {"cache_key", j.cache_key},
          {"spec", spec ? core::ToJson(*spec) : json()},
          {"created_at", core::FormatRfc3339(j.created_at)},
          {"updated_at", core::FormatRfc3339(j.updated_at)},
          {"started_at", Time(j.started_at)},
          {"ended_at", Time(j.ended_at)},
          {"exit_code", j.exit_code ? json(*j.exit_code) : json()},
          {"node", j.node.empty() ? json() : json(j.node)},
          {"gpus", j.gpus},
          {"placed", j.placed ? json{{"milli_cpus", j.placed->milli_cpus},
                                     {"memory_bytes", j.placed->memory_bytes},
                                     {"time_limit_s", j.placed->time_limit.count()},
                                     {"disk_bytes", j.placed->disk_bytes},
                                     {"gpus", j.placed->gpus}}
                              : json()},
          {"result", ResultView(j.result_json)}};
}

json View(const core::JobEvent& e) {
  return {{"id", e.id.value},
          {"at", core::FormatRfc3339(e.at)},
          {"from", e.from ? json(core::Name(*e.from)) : json()},
          {"to", core::Name(e.to)},
          {"state", core::Name(core::StateOf(e.to))},
          {"reason", e.reason},
          {"attempt", e.attempt}};
}

json View(const core::Token& t) {
  return {{"id", t.id},
          {"user", t.user},
          {"role", core::Name(t.role)},
          {"name", t.name},
          {"created_at", core::FormatRfc3339(t.created_at)},
          {"expires_at", Time(t.expires_at)},
          {"revoked_at", Time(t.revoked_at)}};
}

json View(const core::Image& i) {
  return {{"name", i.name},
          {"digest", i.digest},
          {"kind", i.host ? "host" : "rootfs"},
          {"source", i.source},
          {"registered_by", i.registered_by.empty() ? json() : json(i.registered_by)},
          {"registered_at", core::FormatRfc3339(i.registered_at)}};
}

json View(const core::Node& n) {
  static constexpr const char* kStates[] = {"up", "drained", "down"};
  return {{"name", n.name},
          {"state", kStates[static_cast<int>(n.state)]},
          {"cpus", core::FormatMilliCpus(n.capacity.milli_cpus)},
          {"memory", core::FormatBytes(n.capacity.memory_bytes)},
          {"gpus", n.gpu_ids}};
}

}  // namespace sluss::api::internal
