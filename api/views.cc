#include "api/internal/views.h"

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
  json r = json::parse(text, nullptr, false);
  if (!r.is_object()) return json();
  json out = json::object();
  for (const char* k : {"status", "message", "exit_code", "signal", "started_at", "ended_at",
                        "wall_seconds", "cpu_seconds", "memory_peak_bytes", "pids_peak",
                        "outputs", "gpus", "gpu_driver_version", "runtime", "runtime_version",
                        "image_digest", "config_sha256", "seccomp_sha256", "cgroup_version"})
    if (r.contains(k)) out[k] = r[k];
  return out;
}

json View(const core::Job& j) {
  json needs = json::array();
  for (auto id : j.needs) needs.push_back(id.value);
  json spec = json::parse(j.spec_json, nullptr, false);
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
          {"spec", spec.is_discarded() ? json() : spec},
          {"created_at", core::FormatRfc3339(j.created_at)},
          {"updated_at", core::FormatRfc3339(j.updated_at)},
          {"started_at", Time(j.started_at)},
          {"ended_at", Time(j.ended_at)},
          {"exit_code", j.exit_code ? json(*j.exit_code) : json()},
          {"node", j.node.empty() ? json() : json(j.node)},
          {"gpus", j.gpus},
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
