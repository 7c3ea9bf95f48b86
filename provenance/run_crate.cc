#include "provenance/run_crate.h"

#include <map>
#include <set>

#include "core/job_spec.h"
#include "core/strings.h"

namespace sluss::provenance {

using core::StrCat;
using nlohmann::json;

namespace {

json TimeOrNull(const std::optional<core::TimePoint>& t) {
  return t ? json(core::FormatRfc3339(*t)) : json(nullptr);
}


std::string ActionStatus(core::JobState s) {
  switch (s) {
    case core::JobState::kSucceeded: return "http://schema.org/CompletedActionStatus";
    case core::JobState::kFailed:
    case core::JobState::kCancelled: return "http://schema.org/FailedActionStatus";
    case core::JobState::kRunning: return "http://schema.org/ActiveActionStatus";
    case core::JobState::kPending: return "http://schema.org/PotentialActionStatus";
  }
  return "http://schema.org/FailedActionStatus";
}

}  // namespace

json JobProvenance(const core::Project& project, const core::Run& run, const core::Job& job,
                   const core::Job* reused) {
  // A spec that does not load is recorded as such, never guessed at.
  auto loaded = core::ParseJobSpec(job.spec_json);
  const core::JobSpec spec = loaded ? *loaded : core::JobSpec{};
  // A cached job ran nothing: its figures are those of the job it reused.
  const core::Job& ran = reused ? *reused : job;
  auto ran_result = core::ParseJobResult(ran.result_json);
  const core::JobResult result = ran_result ? *ran_result : core::JobResult{};
  const core::Submission& submitted = spec.submitted;
  json outputs = json::array();
  for (const auto& o : result.outputs)
    outputs.push_back(
        {{"path", o.path}, {"size", o.size}, {"sha256", o.sha256}, {"level", spec.LevelOf(o.path)}});
  json datasets = json::array();
  for (const auto& d : spec.datasets)
    datasets.push_back(
        {{"name", d.name}, {"version", d.version}, {"id", d.id}, {"permit", d.permit}});
  json used = json::object();
  if (ran_result) {
    used = {{"wall_seconds", result.wall_seconds},
            {"cpu_seconds", result.cpu_seconds},
            {"memory_peak_bytes", result.memory_peak_bytes},
            {"pids_peak", result.pids_peak},
            {"oom_kills", result.oom_kills}};
  }
  const json commit_info = submitted.commit ? core::ToJson(*submitted.commit) : json(nullptr);
  json enforced = nullptr;
  if (ran_result && result.limit_memory_bytes > 0)
    enforced = {{"milli_cpus", result.limit_milli_cpus},
                {"memory_bytes", result.limit_memory_bytes},
                {"time_limit_s", result.limit_time_seconds},
                {"output_bytes", result.limit_output_bytes}};
  json p = {
      {"job", job.id.value},
      {"run", run.id.value},
      {"project", project.name},
      {"action", job.action},
      {"attempt", ran.attempt},
      {"repository", submitted.repository.empty() ? project.repo_url : submitted.repository},
      {"commit", run.commit},
      {"ref", run.ref},
      {"tree", submitted.tree},
      {"pipeline_sha256", submitted.pipeline_sha256},
      // Author, committer, time, message and the signature's verification.
      {"commit_info", commit_info},
      {"action_spec", loaded ? core::ToJson(spec) : json(nullptr)},
      {"needs", spec.needs},
      {"command", spec.argv},
      {"image", {{"name", spec.image},
                 {"digest", result.image_digest.empty() ? spec.image_digest : result.image_digest}}},
      {"datasets", datasets},
      {"person", run.submitted_by},
      {"trigger", run.trigger},
      {"resources",
       {{"requested", core::ToJson(spec)["resources"]}, {"enforced", enforced}, {"used", used}}},
      {"node", ran.node},
      {"gpus", ran_result ? json(result.gpus) : json(ran.gpus)},
      {"gpu_uuids", result.gpu_uuids},
      {"gpu_driver_version", result.gpu_driver_version},
      {"gpu_usage", core::ToJson(result)["gpu_usage"]},
      {"runtime", {{"name", result.runtime}, {"version", result.runtime_version}}},
      {"config_sha256", result.config_sha256},
      {"seccomp_sha256", result.seccomp_sha256},
      {"cdi_spec_sha256", result.cdi_spec_sha256},
      {"cgroup_version", result.cgroup_version.empty() ? json(nullptr) : json(result.cgroup_version)},
      {"submitted_at", core::FormatRfc3339(job.created_at)},
      {"started_at", TimeOrNull(ran.started_at)},
      {"ended_at", TimeOrNull(reused ? ran.ended_at : job.ended_at)},
      {"exit_code", ran.exit_code ? json(*ran.exit_code) : json(nullptr)},
      {"state", core::Name(job.state())},
      {"status", core::Name(job.status)},
      {"reason", job.reason},
      // The first core::kMaxListedOutputs; the manifest (by its hash) and
      // the count stand for them all.
      {"outputs", outputs},
      {"outputs_count", result.outputs_count},
      {"outputs_manifest_sha256", result.outputs_manifest_sha256},
      {"cache_key", job.cache_key},
  };
  if (reused) p["reused_job"] = reused->id.value;
  return p;
}

json RunCrate(const core::Project& project, const core::Run& run, const std::vector<json>& jobs) {
  json graph = json::array();
  const std::string repo = jobs.empty() ? project.repo_url
                                        : jobs.front().value("repository", project.repo_url);
  const std::string code_id =
      StrCat(repo.empty() ? StrCat("#repository-", project.name) : repo, "#", run.commit);
  json mentions = json::array();
  json has_part = json::array();
  std::set<std::string> seen;  // entity ids already in the graph
  auto add = [&](json entity) {
    std::string id = entity["@id"];
    if (seen.insert(id).second) graph.push_back(std::move(entity));
  };
  add({{"@id", "ro-crate-metadata.json"},
       {"@type", "CreativeWork"},
       {"conformsTo", {{"@id", kRoCrate}}},
       {"about", {{"@id", "./"}}}});
  add({{"@id", kProcessRunCrate},
       {"@type", "CreativeWork"},
       {"name", "Process Run Crate"},
       {"version", "0.5"}});
  json code = {{"@id", code_id},
               {"@type", "SoftwareSourceCode"},
               {"name", StrCat(project.name, " analysis")},
               {"codeRepository", repo},
               {"version", run.commit}};
  // Who wrote the commit, and whether its signature verified.
  if (!jobs.empty() && jobs.front().contains("commit_info") && jobs.front()["commit_info"].is_object()) {
    const json& c = jobs.front()["commit_info"];
    code["author"] = c.value("author", "");
    code["dateModified"] = c.value("time", "");
    code["description"] = c.value("message", "");
    // The signature's check: a flat entity, the code's identifier (the
    // key that vouches for it).
    const json sig = c.value("signature", json::object());
    add({{"@id", "#commit-signature"},
         {"@type", "PropertyValue"},
         {"name", "git commit signature"},
         {"propertyID", StrCat("signature:", sig.value("format", ""))},
         {"value", sig.value("status", "")},
         {"description", StrCat(sig.value("detail", ""),
                                sig.value("signer", "").empty() ? "" : StrCat(" (key ", sig.value("signer", ""), ")"))}});
    code["identifier"] = {{"@id", "#commit-signature"}};
  }
  add(code);
  add({{"@id", "#slussd"},
       {"@type", "SoftwareApplication"},
       {"name", "sluss"},
       {"description", "secure processing environment scheduler"}});
  const std::string person_id = StrCat("#person-", run.submitted_by);
  add({{"@id", person_id}, {"@type", "Person"}, {"name", run.submitted_by}});
  std::map<std::string, std::string> output_ids;  // "job/path" -> @id
  for (const auto& j : jobs) {
    const std::string action_id = StrCat("#job-", j.value("job", 0));
    for (const auto& o : j.value("outputs", json::array())) {
      std::string id = StrCat("outputs/", j.value("action", ""), "/", o.value("path", ""));
      output_ids[StrCat(j.value("action", ""), "/", o.value("path", ""))] = id;
      add({{"@id", id},
           {"@type", "File"},
           {"name", o.value("path", "")},
           {"contentSize", o.value("size", 0)},
           {"sha256", o.value("sha256", "")},
           {"description", StrCat("output of ", j.value("action", ""), ", level ",
                                  o.value("level", "sensitive"))}});
      has_part.push_back({{"@id", id}});
    }
    json objects = json::array();
    for (const auto& d : j.value("datasets", json::array())) {
      std::string did = d.value("id", "").empty()
                            ? StrCat("#dataset-", d.value("name", ""), "-", d.value("version", ""))
                            : d.value("id", "");
      add({{"@id", did},
           {"@type", "Dataset"},
           {"name", d.value("name", "")},
           {"version", d.value("version", "")},
           {"identifier", d.value("id", "")}});
      objects.push_back({{"@id", did}});
      if (!d.value("permit", "").empty()) {
        std::string pid = StrCat("#permit-", d.value("permit", ""));
        add({{"@id", pid},
             {"@type", "CreativeWork"},
             {"name", StrCat("data permit ", d.value("permit", ""))},
             {"identifier", d.value("permit", "")}});
      }
    }
    // The outputs of its needs, as produced by those jobs.
    for (const auto& need : j.value("needs", json::array())) {
      std::string prefix = StrCat(need.get<std::string>(), "/");
      for (const auto& [key, id] : output_ids)
        if (key.rfind(prefix, 0) == 0) objects.push_back({{"@id", id}});
    }
    json results = json::array();
    for (const auto& o : j.value("outputs", json::array()))
      results.push_back({{"@id", output_ids[StrCat(j.value("action", ""), "/", o.value("path", ""))]}});
    // The manifest of every output (result.json lists the first
    // core::kMaxListedOutputs): the crate names it by its hash, so that
    // outputs past the listed ones are accounted for too.
    if (const std::string manifest = j.value("outputs_manifest_sha256", ""); !manifest.empty()) {
      const std::string id = StrCat("outputs/", j.value("action", ""), "/", core::kOutputManifest);
      add({{"@id", id},
           {"@type", "File"},
           {"name", std::string(core::kOutputManifest)},
           {"encodingFormat", "application/jsonl"},
           {"sha256", manifest},
           {"description",
            StrCat("every output of ", j.value("action", ""), " (", j.value("outputs_count", 0),
                   "), one JSON line each with its path, size and SHA-256")}});
      has_part.push_back({{"@id", id}});
      results.push_back({{"@id", id}});
    }
    const std::string image_id = StrCat("#image-", j["image"].value("name", ""));
    std::string digest = j["image"].value("digest", "");
    add({{"@id", image_id},
         {"@type", "ContainerImage"},
         {"additionalType", {{"@id", "https://w3id.org/ro/terms/workflow-run#DockerImage"}}},
         {"name", j["image"].value("name", "")},
         {"sha256", digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : digest}});
    json action = {
        {"@id", action_id},
        {"@type", "CreateAction"},
        {"name", StrCat("job ", j.value("job", 0), ": ", j.value("action", ""))},
        {"description", core::Join(j.value("command", std::vector<std::string>{}), " ")},
        {"instrument", {{"@id", code_id}}},
        {"agent", {{"@id", person_id}}},
        {"object", objects},
        {"result", results},
        {"containerImage", {{"@id", image_id}}},
        {"actionStatus", ActionStatus(core::ParseJobState(j.value("state", "failed"))
                                          .value_or(core::JobState::kFailed))},
        {"identifier", j.value("cache_key", "")},
    };
    if (!j["started_at"].is_null()) action["startTime"] = j["started_at"];
    if (!j["ended_at"].is_null()) action["endTime"] = j["ended_at"];
    if (j.value("status", "") != "succeeded")
      action["error"] = StrCat(j.value("status", ""), ": ", j.value("reason", ""));
    if (j.contains("reused_job")) action["description"] = StrCat(
        action["description"].get<std::string>(), " (cached: outputs of job ", j["reused_job"].dump(), ")");
    add(action);
    mentions.push_back({{"@id", action_id}});
  }
  json root = {{"@id", "./"},
               {"@type", "Dataset"},
               {"name", StrCat("sluss run ", run.id.value, " of project ", project.name, " at ",
                               run.commit.substr(0, 12))},
               {"description", StrCat("Every job of run ", run.id.value, ", with what it used and made")},
               {"datePublished", core::FormatRfc3339(run.updated_at)},
               {"license", "https://spdx.org/licenses/LicenseRef-restricted"},
               {"conformsTo", {{"@id", kProcessRunCrate}}},
               {"hasPart", has_part},
               {"mentions", mentions}};
  graph.insert(graph.begin() + 1, root);
  return {{"@context", {"https://w3id.org/ro/crate/1.1/context",
                        "https://w3id.org/ro/terms/workflow-run/context"}},
          {"@graph", graph}};
}

std::vector<std::string> CheckProcessRunCrate(const json& crate) {
  std::vector<std::string> missing;
  if (!crate.contains("@context")) missing.push_back("no @context");
  if (!crate.contains("@graph") || !crate["@graph"].is_array()) {
    missing.push_back("no @graph");
    return missing;
  }
  std::map<std::string, json> by_id;
  for (const auto& e : crate["@graph"])
    if (e.contains("@id")) by_id[e["@id"].get<std::string>()] = e;
  auto ref = [&](const json& v) -> std::string {
    return v.is_object() && v.contains("@id") ? v["@id"].get<std::string>() : "";
  };
  auto has_type = [](const json& e, const std::string& t) {
    const json& type = e.value("@type", json());
    if (type.is_string()) return type == t;
    if (type.is_array())
      for (const auto& x : type)
        if (x == t) return true;
    return false;
  };
  auto meta = by_id.find("ro-crate-metadata.json");
  if (meta == by_id.end()) {
    missing.push_back("no ro-crate-metadata.json descriptor");
  } else if (ref(meta->second.value("about", json())) != "./") {
    missing.push_back("the descriptor is not about ./");
  }
  auto root = by_id.find("./");
  if (root == by_id.end()) {
    missing.push_back("no root data entity ./");
    return missing;
  }
  bool profile = false;
  const json& conforms = root->second.value("conformsTo", json());
  for (const auto& c : conforms.is_array() ? conforms : json::array({conforms}))
    if (ref(c).rfind("https://w3id.org/ro/wfrun/process/", 0) == 0) profile = true;
  if (!profile) missing.push_back("the root does not conform to the Process Run Crate profile");
  for (const char* k : {"name", "description", "datePublished", "license"})
    if (!root->second.contains(k)) missing.push_back(StrCat("the root has no ", k));
  const json& mentions = root->second.value("mentions", json::array());
  if (mentions.empty()) missing.push_back("the root mentions no action");
  for (const auto& m : mentions) {
    auto a = by_id.find(ref(m));
    if (a == by_id.end()) {
      missing.push_back(StrCat("mentioned ", ref(m), " is not in the graph"));
      continue;
    }
    const json& e = a->second;
    const std::string id = a->first;
    if (!has_type(e, "CreateAction")) missing.push_back(StrCat(id, " is not a CreateAction"));
    for (const char* k : {"instrument", "agent", "object", "result", "actionStatus"})
      if (!e.contains(k)) missing.push_back(StrCat(id, " has no ", k));
    if (e.contains("instrument") && !by_id.contains(ref(e["instrument"])))
      missing.push_back(StrCat(id, ": its instrument is not in the graph"));
    if (e.contains("agent") && !by_id.contains(ref(e["agent"])))
      missing.push_back(StrCat(id, ": its agent is not in the graph"));
    for (const char* k : {"object", "result"})
      for (const auto& o : e.value(k, json::array()))
        if (!by_id.contains(ref(o))) missing.push_back(StrCat(id, ": ", k, " ", ref(o), " is not in the graph"));
    if (e.contains("containerImage")) {
      auto img = by_id.find(ref(e["containerImage"]));
      if (img == by_id.end() || !has_type(img->second, "ContainerImage"))
        missing.push_back(StrCat(id, ": its containerImage is not a ContainerImage"));
    } else {
      missing.push_back(StrCat(id, " has no containerImage"));
    }
    const std::string status = e.value("actionStatus", "");
    if (status == "http://schema.org/CompletedActionStatus" &&
        (!e.contains("startTime") || !e.contains("endTime")))
      missing.push_back(StrCat(id, " completed but has no startTime or endTime"));
  }
  return missing;
}

}  // namespace sluss::provenance
