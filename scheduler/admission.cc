#include "scheduler/admission.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/quantity.h"
#include "core/strings.h"

namespace sluss::scheduler {
namespace {

using core::StrCat;

// "asks for 12 GiB memory" or, for a value it left to the default, "gets
// 2 GiB memory by default".
template <typename T>
std::string Asks(const std::optional<T>& declared, const std::string& what) {
  return declared ? StrCat("asks for ", what) : StrCat("gets ", what, " by default");
}

std::string Hours(double h) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", h);
  return buf;
}

const core::Image* FindImage(const std::vector<core::Image>& images, const std::string& name) {
  for (const auto& i : images)
    if (i.name == name) return &i;
  return nullptr;
}

}  // namespace

std::optional<std::string> NeverFits(const core::ResourceRequest& request,
                                     const core::ResourceDefaults& defaults,
                                     const core::Quota& q, const core::Resources& node) {
  const core::Resources r = core::EffectiveResources(request, defaults, q);
  if (r.gpus > 0) {
    const std::string gpus = StrCat(r.gpus, " GPUs");
    if (q.per_job.max_gpus && r.gpus > *q.per_job.max_gpus)
      return StrCat(Asks(request.gpus, gpus), "; the project allows ", *q.per_job.max_gpus,
                    " per job (per_job.max_gpus)");
    if (q.max.gpus && r.gpus > *q.max.gpus)
      return StrCat(Asks(request.gpus, gpus), "; the project may use ", *q.max.gpus,
                    " in all (max.gpus)");
    if (r.gpus > node.gpus)
      return StrCat(Asks(request.gpus, gpus), "; the largest node has ", node.gpus);
  }
  const std::string memory = StrCat(core::FormatBytes(r.memory_bytes), " memory");
  if (q.per_job.max_memory_bytes && r.memory_bytes > *q.per_job.max_memory_bytes)
    return StrCat(Asks(request.memory_bytes, memory), "; the project allows ",
                  core::FormatBytes(*q.per_job.max_memory_bytes), " per job (per_job.max_memory)");
  if (q.max.memory_bytes && r.memory_bytes > *q.max.memory_bytes)
    return StrCat(Asks(request.memory_bytes, memory), "; the project may use ",
                  core::FormatBytes(*q.max.memory_bytes), " in all (max.memory)");
  if (node.memory_bytes && r.memory_bytes > node.memory_bytes)
    return StrCat(Asks(request.memory_bytes, memory), "; the largest node has ",
                  core::FormatBytes(node.memory_bytes));
  const std::string cpus = StrCat(core::FormatMilliCpus(r.milli_cpus), " CPUs");
  if (q.max.milli_cpus && r.milli_cpus > *q.max.milli_cpus)
    return StrCat(Asks(request.milli_cpus, cpus), "; the project may use ",
                  core::FormatMilliCpus(*q.max.milli_cpus), " in all (max.cpus)");
  if (node.milli_cpus && r.milli_cpus > node.milli_cpus)
    return StrCat(Asks(request.milli_cpus, cpus), "; the largest node has ",
                  core::FormatMilliCpus(node.milli_cpus));
  // Output space is a file system the size asked for, on this host's disk:
  // capped per job by the quota, else by the node's output limit (never
  // unlimited: `disk: 1T` on a host with 77 GB free is refused here).
  const std::string disk = StrCat(core::FormatBytes(r.disk_bytes), " output space (disk)");
  if (q.per_job.max_disk_bytes && r.disk_bytes > *q.per_job.max_disk_bytes)
    return StrCat(Asks(request.disk_bytes, disk), "; the project allows ",
                  core::FormatBytes(*q.per_job.max_disk_bytes), " per job (per_job.max_disk)");
  if (!q.per_job.max_disk_bytes && node.disk_bytes && r.disk_bytes > node.disk_bytes)
    return StrCat(Asks(request.disk_bytes, disk), "; the node's output limit is ",
                  core::FormatBytes(node.disk_bytes),
                  " per job (an admin may allow more with the quota's per_job.max_disk)");
  if (q.per_job.max_time && r.time_limit > *q.per_job.max_time)
    return StrCat(Asks(request.time_limit, core::FormatDuration(r.time_limit)),
                  "; the project allows ", core::FormatDuration(*q.per_job.max_time),
                  " per job (per_job.max_time)");
  if (r.gpus > 0 && q.per_user.max_gpus && r.gpus > *q.per_user.max_gpus)
    return StrCat(Asks(request.gpus, StrCat(r.gpus, " GPUs")), "; the project allows ",
                  *q.per_user.max_gpus, " per person (per_user.max_gpus)");
  // The GPU-hour budget is charged by reservation (GPUs x time limit) at
  // start: a job whose reservation exceeds the whole budget never starts.
  if (r.gpus > 0 && q.budget) {
    const double hours =
        r.gpus * std::chrono::duration<double, std::ratio<3600>>(r.time_limit).count();
    if (hours > q.budget->gpu_hours)
      return StrCat("reserves ", r.gpus, " GPUs for ", core::FormatDuration(r.time_limit),
                    " (", Hours(hours), " GPU-hours); the project's budget is ",
                    Hours(q.budget->gpu_hours), " GPU-hours per ", q.budget->period,
                    " (budget.gpu_hours)");
  }
  if (q.max_running_jobs && *q.max_running_jobs <= 0)
    return "the project may run no jobs now (max_running_jobs is 0); ask an admin";
  if (q.per_user.max_running_jobs && *q.per_user.max_running_jobs <= 0)
    return "the project lets no person run jobs now (per_user.max_running_jobs is 0); ask an admin";
  return std::nullopt;
}

core::Result<core::ResolvedDataset> ResolveForJob(const core::DatasetRef& ref,
                                                  const std::vector<core::Permit>& permits,
                                                  const std::vector<core::DatasetVersion>& versions,
                                                  const std::string& project,
                                                  const std::string& person, core::TimePoint now) {
  using State = core::DatasetVersion::State;
  std::optional<core::DatasetVersion> v;
  bool any = false, ready = false;
  for (const auto& d : versions)
    if (d.name == ref.name) {
      any = true;
      ready = ready || d.state == State::kReady;
    }
  if (!any)
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("dataset ", ref.name,
                             " is not registered; a data steward registers it with "
                             "'sluss dataset add'"));
  if (!ref.version.empty()) {
    for (const auto& d : versions)
      if (d.name == ref.name && d.version == ref.version) v = d;
    if (!v)
      return core::Fail(core::ErrorCode::kFailedPrecondition,
                        StrCat("dataset ", ref.name, " has no version ", ref.version));
    if (v->state != State::kReady)
      return core::Fail(core::ErrorCode::kFailedPrecondition,
                        StrCat("dataset ", ref.ToString(), " is ", core::Name(v->state),
                               v->error.empty() ? std::string() : StrCat(": ", v->error)));
  } else {
    v = core::ResolveDataset(permits, versions, project, ref.name, person, now);
    if (!v) {
      auto why = core::FindPermit(permits, project, ref.name, "", person, now);
      if (!why) return std::unexpected(why.error());
      return core::Fail(core::ErrorCode::kFailedPrecondition,
                        StrCat("dataset ", ref.name, " has no ready version",
                               ready ? " that permit " + *why + " covers"
                                     : std::string(" yet (it is being hashed)")));
    }
  }
  auto permit = core::FindPermit(permits, project, ref.name, v->version, person, now);
  if (!permit) return std::unexpected(permit.error());
  return core::ResolvedDataset{v->name, v->version, v->id, *permit};
}

std::string CacheKey(const core::JobSpec& spec, const std::string& image_digest,
                     const std::string& code_digest, std::vector<std::string> needs_keys) {
  std::vector<std::string> dataset_ids;
  for (const auto& d : spec.datasets) dataset_ids.push_back(d.id);
  std::sort(dataset_ids.begin(), dataset_ids.end());
  std::sort(needs_keys.begin(), needs_keys.end());
  nlohmann::json material = {{"v", 1},
                             {"spec", core::CacheKeyJson(spec)},
                             {"image", image_digest},
                             {"datasets", dataset_ids},
                             {"code", code_digest},
                             {"needs", needs_keys}};
  return StrCat("sha256:", core::Sha256Hex(material.dump()));
}

core::Result<Admission> Admit(const core::PipelineResult& parsed, const AdmissionFacts& f) {
  Admission out;
  if (!f.tree_error.empty()) {
    out.errors.push_back(StrCat("commit ", f.commit_short, ": ", f.tree_error,
                                ": remove that entry from the history and push again"));
    return out;
  }
  if (!parsed) {
    for (const auto& d : parsed.error()) out.errors.push_back(d.ToString());
    return out;
  }
  const core::Pipeline& pipeline = *parsed;
  // Refused up front, before any action is looked at: the admin's limit on
  // one run's size.
  if (f.max_actions > 0 && pipeline.actions.size() > static_cast<std::size_t>(f.max_actions)) {
    out.errors.push_back(StrCat("sluss.yaml has ", pipeline.actions.size(),
                                " actions; a run may have at most ", f.max_actions,
                                " (git.max_actions_per_run): split the pipeline, or ask an "
                                "admin to raise the limit"));
    return out;
  }

  // What can never run is refused now, with the limit named, rather than
  // left pending forever: each error at its position in sluss.yaml.
  core::Diagnostics errors;
  std::map<std::string, std::vector<core::ResolvedDataset>> resolved;
  for (const auto& a : pipeline.actions) {
    // Positions follow the file's order (SpecOf, below, sorts by name).
    for (std::size_t i = 0; i < a.datasets.size(); ++i) {
      auto d = ResolveForJob(a.datasets[i], f.permits, f.datasets, f.project, f.person, f.now);
      if (d)
        resolved[a.name].push_back(*d);
      else
        errors.push_back({"sluss.yaml", i < a.dataset_pos.size() ? a.dataset_pos[i] : a.pos,
                          StrCat("action ", a.name, ": ", d.error().message)});
    }
    if (auto why = NeverFits(a.resources, f.defaults, f.quota, f.largest_node))
      errors.push_back({"sluss.yaml", a.pos, StrCat("actions.", a.name, ".resources: ", *why)});
  }
  for (const auto& a : pipeline.actions) {
    if (FindImage(f.images, a.image)) continue;
    std::vector<std::string> names;
    for (const auto& i : f.images) names.push_back(i.name);
    errors.push_back({"sluss.yaml", a.image_pos,
                      StrCat("actions.", a.name, ".image: image ", core::Quote(a.image),
                             " is not approved",
                             names.empty() ? std::string("; no images are approved yet")
                                           : StrCat("; approved: ", core::Join(names, ", ")))});
  }
  if (!errors.empty()) {
    std::stable_sort(errors.begin(), errors.end(), [](const auto& x, const auto& y) {
      return std::pair(x.pos.line, x.pos.column) < std::pair(y.pos.line, y.pos.column);
    });
    for (const auto& d : errors) out.errors.push_back(d.ToString());
    return out;
  }

  // The actions asked for, and everything they need.
  std::set<std::string> chosen;
  std::vector<std::string> todo = f.only_actions;
  while (!todo.empty()) {
    std::string name = todo.back();
    todo.pop_back();
    const core::Action* a = pipeline.Find(name);
    if (!a)
      return core::InvalidArgument(
          StrCat("the pipeline at ", f.commit_short, " has no action ", core::Quote(name)),
          "actions");
    if (chosen.insert(name).second) todo.insert(todo.end(), a->needs.begin(), a->needs.end());
  }
  auto wanted = [&](const std::string& name) { return chosen.empty() || chosen.contains(name); };
  auto forced = [&](const std::string& name) {
    return f.force && (f.only_actions.empty() ||
                       std::find(f.only_actions.begin(), f.only_actions.end(), name) !=
                           f.only_actions.end());
  };

  std::map<std::string, std::string> keys;
  std::map<std::string, bool> cached;
  for (std::size_t i : pipeline.order) {
    const core::Action& a = pipeline.actions[i];
    if (!wanted(a.name)) continue;
    AdmittedJob job;
    job.spec = core::SpecOf(a);
    std::vector<core::ResolvedDataset> ds = resolved[a.name];
    std::stable_sort(ds.begin(), ds.end(),
                     [](const auto& x, const auto& y) { return x.name < y.name; });
    job.spec.datasets = std::move(ds);
    std::vector<std::string> needs_keys;
    for (const auto& n : a.needs) needs_keys.push_back(keys.at(n));
    const core::Image* image = FindImage(f.images, a.image);
    const std::string digest = image ? image->digest : StrCat("image:", a.image);
    auto code = f.code_digests.find(a.name);
    job.cache_key = CacheKey(job.spec, digest,
                             code == f.code_digests.end() ? std::string() : code->second,
                             needs_keys);
    keys[a.name] = job.cache_key;
    // Provenance that only submit time knows (not in the key).
    job.spec.image_digest = image ? image->digest : std::string();
    job.spec.submitted = f.submission;
    std::optional<core::JobId> hit;
    if (!forced(a.name) && f.find_cached) hit = f.find_cached(job.cache_key);
    std::vector<std::string> waiting;
    for (const auto& n : a.needs)
      if (!cached[n]) waiting.push_back(n);
    if (hit) {
      job.status = core::StatusCode::kCached;
      job.reason = StrCat("cached: same inputs as job ", hit->value);
      cached[a.name] = true;
    } else if (!waiting.empty()) {
      job.status = core::StatusCode::kWaitingOnDependencies;
      job.reason = StrCat("waiting_on_dependencies (", core::Join(waiting, ", "), ")");
    } else {
      job.status = core::StatusCode::kWaitingOnResources;
      job.reason = "waiting_on_resources: queued for the scheduler";
    }
    out.jobs.push_back(std::move(job));
  }

  // Where only signed work may run, an unsigned commit, or one signed by a
  // key that is not its author's, makes a failed run that says so.
  if (f.require_signed && f.signature_status != "good") {
    out.errors.push_back(StrCat(
        "commit ", f.commit_short, " is not signed by a registered key of its author ",
        f.author_email, " (signature: ", f.signature_status,
        f.signature_detail.empty() ? std::string() : StrCat(", ", f.signature_detail),
        "): sign it with 'git commit -S' using a key the agency registered for you, and push "
        "again"));
    out.jobs.clear();
    return out;
  }
  // The project's queue limit: the whole run is refused, not part of it.
  if (f.quota.max_queued_jobs) {
    std::int64_t adding = 0;
    for (const auto& j : out.jobs)
      if (core::StateOf(j.status) == core::JobState::kPending) ++adding;
    if (f.queued + adding > *f.quota.max_queued_jobs) {
      out.errors.push_back(StrCat("project ", f.project, " has ", f.queued,
                                  " jobs queued and this run adds ", adding,
                                  "; the limit (max_queued_jobs) is ", *f.quota.max_queued_jobs,
                                  ": push again when jobs have finished, or ask an admin"));
      out.jobs.clear();
    }
  }
  return out;
}

}  // namespace sluss::scheduler
