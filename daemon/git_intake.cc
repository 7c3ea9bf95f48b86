#include "daemon/git_intake.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "api/api.h"
#include "core/digest.h"
#include "core/permit.h"
#include "core/pipeline.h"
#include "core/quantity.h"
#include "core/strings.h"
#include "daemon/log.h"
#include "gitsync/gitsync.h"

namespace sluss::daemon {

using core::StrCat;

namespace {

// Why a job asking for `r` can never start, or nothing. Limits: the
// project's per-job quota and the largest node.
std::optional<std::string> NeverFits(const core::ResourceRequest& r, const core::Quota& q,
                                     const core::Resources& node) {
  if (r.gpus) {
    if (q.per_job.max_gpus && *r.gpus > *q.per_job.max_gpus)
      return StrCat("asks for ", *r.gpus, " GPUs; the project allows ", *q.per_job.max_gpus,
                    " per job (per_job.max_gpus)");
    if (q.max.gpus && *r.gpus > *q.max.gpus)
      return StrCat("asks for ", *r.gpus, " GPUs; the project may use ", *q.max.gpus,
                    " in all (max.gpus)");
    if (*r.gpus > node.gpus)
      return StrCat("asks for ", *r.gpus, " GPUs; the largest node has ", node.gpus);
  }
  if (r.memory_bytes) {
    if (q.per_job.max_memory_bytes && *r.memory_bytes > *q.per_job.max_memory_bytes)
      return StrCat("asks for ", core::FormatBytes(*r.memory_bytes), " memory; the project allows ",
                    core::FormatBytes(*q.per_job.max_memory_bytes), " per job (per_job.max_memory)");
    if (node.memory_bytes && *r.memory_bytes > node.memory_bytes)
      return StrCat("asks for ", core::FormatBytes(*r.memory_bytes),
                    " memory; the largest node has ", core::FormatBytes(node.memory_bytes));
  }
  if (r.milli_cpus) {
    if (q.max.milli_cpus && *r.milli_cpus > *q.max.milli_cpus)
      return StrCat("asks for ", core::FormatMilliCpus(*r.milli_cpus), " CPUs; the project may use ",
                    core::FormatMilliCpus(*q.max.milli_cpus), " in all (max.cpus)");
    if (node.milli_cpus && *r.milli_cpus > node.milli_cpus)
      return StrCat("asks for ", core::FormatMilliCpus(*r.milli_cpus),
                    " CPUs; the largest node has ", core::FormatMilliCpus(node.milli_cpus));
  }
  if (r.time_limit && q.per_job.max_time && *r.time_limit > *q.per_job.max_time)
    return StrCat("asks for ", core::FormatDuration(*r.time_limit), "; the project allows ",
                  core::FormatDuration(*q.per_job.max_time), " per job (per_job.max_time)");
  return std::nullopt;
}


constexpr std::string_view kSkipMarker = "[skip sluss]";

std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

GitIntake::GitIntake(core::Store& store, const core::Clock& clock, GitIntakeOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

std::string GitIntake::RepoPath(std::string_view project) const {
  return StrCat(options_.repos_dir, "/", project, ".git");
}

std::string GitIntake::MirrorPath(std::string_view project) const {
  return StrCat(options_.mirrors_dir, "/", project, ".git");
}

core::Result<std::unique_ptr<gitsync::Repo>> GitIntake::OpenRepo(const core::Project& project) {
  std::string hosted = RepoPath(project.name);
  if (std::filesystem::exists(hosted)) return gitsync::Repo::Open(hosted);
  if (project.repo_url.empty()) {
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("project ", core::Quote(project.name),
                             " has no repository: create it with --hosted, or give repo_url"));
  }
  std::string mirror = MirrorPath(project.name);
  gitsync::Credentials credentials;
  std::size_t best = 0;
  for (const auto& c : options_.credentials) {
    if (project.repo_url.starts_with(c.url) && c.url.size() > best) {
      best = c.url.size();
      credentials = {c.username, c.token_file, c.ssh_key, c.known_hosts};
    }
  }
  auto fetched = gitsync::FetchMirror(options_.fetch_helper, project.repo_url, mirror,
                                      credentials, options_.fetch_timeout);
  // The last successful fetch is kept across failures: /metrics shows its
  // age (sluss_git_sync_age_seconds), which is what an operator alerts on.
  // A failing remote is polled again after a backoff that doubles with
  // each failure in a row (SyncAll honours it; the count is in the status).
  const core::TimePoint now = clock_.Now();
  std::string last_ok = core::FormatRfc3339(now);
  int failures = 0;
  if (!fetched) {
    auto prev = store_.GetSetting(StrCat("sync/", project.name));
    nlohmann::json p = prev ? nlohmann::json::parse(*prev, nullptr, false) : nlohmann::json();
    last_ok = p.is_object() && p["last_ok_at"].is_string() ? p["last_ok_at"].get<std::string>() : "";
    failures = (p.is_object() ? p.value("failures", 0) : 0) + 1;
  }
  auto backoff = options_.poll_interval * (1 << std::min(failures > 0 ? failures - 1 : 0, 16));
  backoff = std::min<std::chrono::seconds>(backoff, options_.max_backoff);
  nlohmann::json status = {{"ok", fetched.has_value()},
                           {"url", project.repo_url},
                           {"at", core::FormatRfc3339(now)},
                           {"last_ok_at", last_ok.empty() ? nlohmann::json() : nlohmann::json(last_ok)},
                           {"failures", failures},
                           {"next_try_at", failures > 0 ? nlohmann::json(core::FormatRfc3339(now + backoff))
                                                        : nlohmann::json()},
                           {"error", fetched ? "" : fetched.error().message}};
  (void)store_.PutSetting(StrCat("sync/", project.name), status.dump(), clock_.Now());
  if (!fetched) return std::unexpected(fetched.error());
  return gitsync::Repo::Open(mirror);
}

core::Result<std::string> GitIntake::CreateHosted(std::string_view project) {
  if (auto p = store_.GetProject(project); !p) return std::unexpected(p.error());
  std::string path = RepoPath(project);
  if (auto r = gitsync::Repo::InitBare(path, "refs/heads/main"); !r) {
    return std::unexpected(r.error());
  }
  // The hook's own token: it may only notify slussd about this project.
  auto token = api::Api::IssueToken(store_, clock_.Now(), StrCat("hook:", project),
                                    core::Role::kHook, "post-receive hook", std::nullopt);
  if (!token) return std::unexpected(token.error());
  std::string env = ShellQuote(StrCat(options_.repos_dir, "/hook.env"));
  std::string script = StrCat(
      "#!/bin/sh\n"
      "# Installed by slussd for project ", project, ": tells slussd about each push.\n"
      "# The token below may do nothing else. slussd writes where it listens to\n"
      "# hook.env at each start.\n"
      "SLUSS_API= SLUSS_CACERT=\n"
      "if [ -r ", env, " ]; then . ", env, "; fi\n"
      "if [ -z \"$SLUSS_API\" ]; then\n"
      "  echo \"sluss: slussd has not started yet; the push will be picked up when it starts\"\n"
      "  exit 0\n"
      "fi\n"
      "out=$(curl -sS -m 60 -X POST ${SLUSS_CACERT:+--cacert \"$SLUSS_CACERT\"} ",
      "-H ", ShellQuote(StrCat("Authorization: Bearer ", token->second)), " \"$SLUSS_API\"",
      ShellQuote(StrCat("/v1/hooks/git/", project, "?format=text")),
      " 2>&1) || { echo \"sluss: slussd did not answer ($out); the push will be picked up when "
      "it next starts\"; exit 0; }\n"
      "printf '%s\\n' \"$out\" | sed 's/^/sluss: /'\n");
  std::string hook = path + "/hooks/post-receive";
  {
    std::ofstream out(hook, std::ios::trunc);
    out << script;
    if (!out) return core::Internal(StrCat("cannot write ", hook));
  }
  chmod(hook.c_str(), 0700);
  return path;
}

core::Result<void> GitIntake::WriteHookEnv(std::string_view api_url) const {
  std::error_code ec;
  std::filesystem::create_directories(options_.repos_dir, ec);
  std::string path = StrCat(options_.repos_dir, "/hook.env");
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "# Written by slussd at each start: where the hooks reach it.\n"
        << "SLUSS_API=" << ShellQuote(api_url) << "\n"
        << "SLUSS_CACERT=" << ShellQuote(options_.ca_cert) << "\n";
    if (!out) return core::Internal(StrCat("cannot write ", tmp));
  }
  chmod(tmp.c_str(), 0644);
  if (std::filesystem::rename(tmp, path, ec); ec) {
    return core::Internal(StrCat("cannot rename ", tmp, " to ", path, ": ", ec.message()));
  }
  return {};
}

std::mutex& GitIntake::ProjectLock(std::string_view project) {
  std::lock_guard lock(locks_mu_);
  auto it = locks_.find(project);
  if (it == locks_.end())
    it = locks_.emplace(std::string(project), std::make_unique<std::mutex>()).first;
  return *it->second;
}

core::Result<std::vector<core::SyncOutcome>> GitIntake::Sync(std::string_view project_name) {
  std::lock_guard lock(ProjectLock(project_name));
  auto project = store_.GetProject(project_name);
  if (!project) return std::unexpected(project.error());
  auto repo = OpenRepo(*project);
  if (!repo) return std::unexpected(repo.error());
  auto branches = (*repo)->Branches();
  if (!branches) return std::unexpected(branches.error());
  std::set<std::string> tracked;
  for (const auto& b : project->branches) tracked.insert(StrCat("refs/heads/", b));
  if (tracked.empty()) {
    auto def = (*repo)->DefaultBranch();
    if (!def) return std::unexpected(def.error());
    tracked.insert(*def);
    // A repository whose only branch is not HEAD's (pushed "master" to a
    // "main" repository): track that one.
    bool present = std::any_of(branches->begin(), branches->end(),
                               [&](const auto& b) { return b.ref == *def; });
    if (!present && branches->size() == 1) tracked = {branches->front().ref};
  }
  std::vector<core::SyncOutcome> out;
  for (const auto& tip : *branches) {
    if (!tracked.contains(tip.ref)) continue;
    RunSpec spec;
    spec.ref = tip.ref;
    spec.sha = tip.commit;
    spec.trigger = "push";
    spec.dedupe_key = StrCat("push:", project->name, ":", tip.ref, ":", tip.commit);
    auto outcome = MakeRun(*project, **repo, spec);
    if (!outcome) return std::unexpected(outcome.error());
    out.push_back(*outcome);
  }
  return out;
}

core::Result<core::SyncOutcome> GitIntake::StartRun(const core::RunRequest& req) {
  std::lock_guard lock(ProjectLock(req.project));
  auto project = store_.GetProject(req.project);
  if (!project) return std::unexpected(project.error());
  auto repo = OpenRepo(*project);
  if (!repo) return std::unexpected(repo.error());
  RunSpec spec;
  spec.trigger = "api";
  spec.submitted_by = req.submitted_by;
  spec.only_actions = req.actions;
  spec.force = req.force;
  bool is_sha = req.ref.size() == 40 &&
                req.ref.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (is_sha) {
    if (!(*repo)->Commit(req.ref)) {
      return core::NotFound(StrCat("no commit ", req.ref, " in project ", req.project));
    }
    spec.sha = req.ref;
  } else {
    std::string ref = req.ref.empty() ? std::string() : StrCat("refs/heads/", req.ref);
    if (ref.empty()) {
      auto def = (*repo)->DefaultBranch();
      if (!def) return std::unexpected(def.error());
      ref = *def;
    }
    auto branches = (*repo)->Branches();
    if (!branches) return std::unexpected(branches.error());
    for (const auto& b : *branches) {
      if (b.ref == ref) spec.sha = b.commit;
    }
    if (spec.sha.empty()) {
      return core::NotFound(StrCat("no branch ", core::Quote(ref.substr(11)), " in project ",
                                   req.project, "; push it first"));
    }
    spec.ref = ref;
  }
  return MakeRun(*project, **repo, spec);
}

namespace {

// The version of a dataset that a job gets, and the permit that allows it,
// as stored in the job's spec; or why the job may not use it.
core::Result<nlohmann::json> ResolveForJob(const core::DatasetRef& ref,
                                           const std::vector<core::Permit>& permits,
                                           const std::vector<core::DatasetVersion>& versions,
                                           const std::string& project, const std::string& person,
                                           core::TimePoint now) {
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
  return nlohmann::json{
      {"name", v->name}, {"version", v->version}, {"id", v->id}, {"permit", *permit}};
}

}  // namespace

core::Result<core::SyncOutcome> GitIntake::MakeRun(const core::Project& project,
                                                   gitsync::Repo& repo,
                                                   const RunSpec& spec) {
  const std::string& ref = spec.ref;
  const std::string& sha = spec.sha;
  core::SyncOutcome o;
  o.ref = ref;
  o.commit = sha;
  const std::string& dedupe = spec.dedupe_key;
  if (auto seen = dedupe.empty() ? core::Result<core::Run>(core::NotFound(""))
                                 : store_.GetRunByDedupeKey(dedupe);
      seen) {
    o.run = seen->id;
    o.message = StrCat("run ", seen->id.value, " for ", sha.substr(0, 10), " exists (",
                       core::Name(seen->state), ")");
    return o;
  }
  auto commit = repo.Commit(sha);
  if (!commit) return std::unexpected(commit.error());
  if (spec.trigger == "push" && commit->message.find(kSkipMarker) != std::string::npos) {
    o.skipped = true;
    o.message = StrCat(sha.substr(0, 10), ": [skip sluss], no run");
    return o;
  }
  core::NewRun run;
  run.project = project.name;
  run.commit = sha;
  run.ref = ref;
  run.trigger = spec.trigger;
  run.submitted_by = spec.submitted_by.empty() ? commit->author_email : spec.submitted_by;
  run.dedupe_key = dedupe;
  // The signature vouches for the commit's author, whom sluss credits (and
  // whose permits count) when the run comes from a push.
  const gitsync::SignatureCheck signature = gitsync::VerifySignature(
      *commit, commit->author_email, {options_.allowed_signers, options_.gpg_keyring});
  nlohmann::json commit_record = {
      {"author", StrCat(commit->author_name, " <", commit->author_email, ">")},
      {"committer", StrCat(commit->committer_name, " <", commit->committer_email, ">")},
      {"time", core::FormatRfc3339(commit->time)},
      {"message", commit->message.substr(0, 4096)},
      {"signature", {{"status", signature.status},
                     {"format", signature.format},
                     {"signer", signature.signer},
                     {"detail", signature.detail}}}};
  // Files over the parser's limit are read in full so that it can say how
  // big they are; past 16 MiB we stop reading.
  auto text = repo.ReadFile(sha, "sluss.yaml", 16 << 20);
  core::Diagnostics errors;
  std::optional<core::Pipeline> pipeline;
  // Each action's datasets: the versions and the permits that allow them.
  std::map<std::string, std::vector<nlohmann::json>> resolved;
  if (!text) {
    if (text.error().code == core::ErrorCode::kNotFound) {
      errors.push_back({"sluss.yaml", {1, 1},
                        "no sluss.yaml at the repository root; add one (see docs/pipeline.md)"});
    } else if (text.error().code == core::ErrorCode::kResourceExhausted) {
      errors.push_back({"sluss.yaml", {1, 1}, "the file is over 16 MiB; the limit is 1 MiB"});
    } else {
      return std::unexpected(text.error());
    }
  } else if (auto p = core::ParsePipeline(*text, "sluss.yaml"); !p) {
    errors = p.error();
  } else {
    pipeline = std::move(*p);
    // What can never run is refused now, with the limit named, rather than
    // left pending forever.
    auto permits = store_.ListPermits(project.name);
    if (!permits) return std::unexpected(permits.error());
    auto versions = store_.ListDatasets();
    if (!versions) return std::unexpected(versions.error());
    for (const auto& a : pipeline->actions) {
      for (std::size_t i = 0; i < a.datasets.size(); ++i) {
        auto d = ResolveForJob(a.datasets[i], *permits, *versions, project.name,
                               run.submitted_by, clock_.Now());
        if (d) {
          resolved[a.name].push_back(*d);
        } else {
          errors.push_back({"sluss.yaml", i < a.dataset_pos.size() ? a.dataset_pos[i] : a.pos,
                            StrCat("action ", a.name, ": ", d.error().message)});
        }
      }
      if (auto why = NeverFits(a.resources, project.quota, options_.largest_node))
        errors.push_back({"sluss.yaml", a.pos, StrCat("actions.", a.name, ".resources: ", *why)});
    }
    // Images must be approved: an error at the image's position.
    for (const auto& a : pipeline->actions) {
      if (!options_.images->Find(a.image)) {
        std::vector<std::string> names;
        for (const auto& i : options_.images->List()) names.push_back(i.name);
        errors.push_back({"sluss.yaml", a.image_pos,
                          StrCat("actions.", a.name, ".image: image ", core::Quote(a.image),
                                 " is not approved",
                                 names.empty() ? std::string("; no images are approved yet")
                                               : StrCat("; approved: ", core::Join(names, ", ")))});
      }
    }
  }
  // The actions asked for, and everything they need.
  std::set<std::string> chosen;
  if (pipeline && errors.empty() && !spec.only_actions.empty()) {
    std::vector<std::string> todo = spec.only_actions;
    while (!todo.empty()) {
      std::string name = todo.back();
      todo.pop_back();
      const core::Action* a = pipeline->Find(name);
      if (!a) {
        return core::InvalidArgument(StrCat("the pipeline at ", sha.substr(0, 10),
                                            " has no action ", core::Quote(name)),
                                     "actions");
      }
      if (chosen.insert(name).second) todo.insert(todo.end(), a->needs.begin(), a->needs.end());
    }
  }
  auto wanted = [&](const std::string& name) { return chosen.empty() || chosen.contains(name); };
  auto forced = [&](const std::string& name) {
    return spec.force && (spec.only_actions.empty() ||
                          std::find(spec.only_actions.begin(), spec.only_actions.end(), name) !=
                              spec.only_actions.end());
  };
  if (!errors.empty()) {
    for (const auto& d : errors) run.errors.push_back(d.ToString());
  } else {
    auto files = repo.Files(sha);
    if (!files) return std::unexpected(files.error());
    std::map<std::string, std::string> keys;
    std::map<std::string, bool> cached;
    for (std::size_t i : pipeline->order) {
      const core::Action& a = pipeline->actions[i];
      if (!wanted(a.name)) continue;
      nlohmann::json action_spec = core::ToJson(a);
      std::vector<std::string> datasets;
      action_spec["datasets"] = nlohmann::json::array();
      for (const auto& d : resolved[a.name]) {
        datasets.push_back(d["id"].get<std::string>());
        action_spec["datasets"].push_back(d);
      }
      std::vector<std::string> needs_keys;
      for (const auto& n : a.needs) needs_keys.push_back(keys.at(n));
      auto found = options_.images->Find(a.image);
      std::string image = found ? found->digest : std::string();
      std::string key = gitsync::CacheKey(action_spec, image.empty() ? StrCat("image:", a.image) : image,
                                          datasets, gitsync::TreeDigest(*files, a.code), needs_keys);
      keys[a.name] = key;
      // Provenance that only submit time knows (after the key: it is not
      // an input of the job).
      action_spec["image_digest"] = image;
      if (a.priority != 0) action_spec["priority"] = a.priority;
      action_spec["submitted"] = {{"repository", project.repo_url.empty()
                                                     ? StrCat("sluss-hosted:", project.name)
                                                     : project.repo_url},
                                  {"tree", commit->tree},
                                  {"pipeline_sha256", core::Sha256Hex(*text)},
                                  {"commit", commit_record}};
      core::NewJob job;
      job.action = a.name;
      job.spec_json = action_spec.dump();
      job.cache_key = key;
      job.needs = a.needs;
      auto hit = forced(a.name) ? core::Result<std::optional<core::JobId>>(std::nullopt)
                                : store_.FindSucceededJob(project.name, key);
      if (!hit) return std::unexpected(hit.error());
      std::vector<std::string> waiting;
      for (const auto& n : a.needs) {
        if (!cached[n]) waiting.push_back(n);
      }
      if (*hit) {
        job.status = core::StatusCode::kCached;
        job.reason = StrCat("cached: same inputs as job ", (*hit)->value);
        cached[a.name] = true;
      } else if (!waiting.empty()) {
        job.status = core::StatusCode::kWaitingOnDependencies;
        job.reason = StrCat("waiting_on_dependencies (", core::Join(waiting, ", "), ")");
      } else {
        job.status = core::StatusCode::kWaitingOnResources;
        job.reason = "waiting_on_resources: queued for the scheduler";
      }
      run.jobs.push_back(std::move(job));
    }
  }
  // Where only signed work may run, an unsigned commit, or one signed by
  // a key that is not its author's, makes a failed run that says so.
  if (options_.require_signed && signature.status != "good" && run.errors.empty()) {
    run.errors.push_back(StrCat(
        "commit ", sha.substr(0, 10), " is not signed by a registered key of its author ",
        commit->author_email, " (signature: ", signature.status,
        signature.detail.empty() ? std::string() : StrCat(", ", signature.detail),
        "): sign it with 'git commit -S' using a key the agency registered for you, and push again"));
    run.jobs.clear();
  }
  // The project's queue limit: the whole run is refused, not part of it.
  if (project.quota.max_queued_jobs && run.errors.empty()) {
    std::int64_t queued = 0, adding = 0;
    if (auto counts = store_.CountJobs(project.name))
      for (const auto& c : *counts)
        if (c.state == core::JobState::kPending) queued += c.count;
    for (const auto& j : run.jobs)
      if (core::StateOf(j.status) == core::JobState::kPending) ++adding;
    if (queued + adding > *project.quota.max_queued_jobs) {
      run.errors.push_back(StrCat("project ", project.name, " has ", queued,
                                  " jobs queued and this run adds ", adding,
                                  "; the limit (max_queued_jobs) is ",
                                  *project.quota.max_queued_jobs,
                                  ": push again when jobs have finished, or ask an admin"));
      run.jobs.clear();
    }
  }
  auto created = store_.CreateRun(run, clock_.Now());
  if (!created) {
    if (created.error().code == core::ErrorCode::kAlreadyExists) {
      auto seen = store_.GetRunByDedupeKey(dedupe);
      if (!seen) return std::unexpected(seen.error());
      o.run = seen->id;
      o.message = StrCat("run ", seen->id.value, " for ", sha.substr(0, 10), " exists");
      return o;
    }
    return std::unexpected(created.error());
  }
  o.run = created->id;
  o.created = true;
  if (!run.errors.empty()) {
    o.message = StrCat("run ", created->id.value, " for ", sha.substr(0, 10), " failed: ",
                       run.errors.size(), run.errors.size() == 1 ? " error" : " errors",
                       " in sluss.yaml\n", core::Join(run.errors, "\n"));
  } else {
    int n_cached = static_cast<int>(std::count_if(run.jobs.begin(), run.jobs.end(), [](const auto& j) {
      return j.status == core::StatusCode::kCached;
    }));
    o.message = StrCat("run ", created->id.value, " for ", sha.substr(0, 10), ": ", run.jobs.size(),
                       " jobs (", n_cached, " cached), ", core::Name(created->state),
                       "; follow it with 'sluss run show ", created->id.value, "'");
  }
  Log(LogLevel::kInfo, StrCat("push project=", project.name, " ref=", ref, " commit=", sha,
                              " run=", created->id.value, " errors=", run.errors.size()));
  return o;
}

void GitIntake::SyncAll() {
  auto projects = store_.ListProjects();
  if (!projects) {
    Log(LogLevel::kError, StrCat("git sync: ", projects.error().message));
    return;
  }
  const core::TimePoint now = clock_.Now();
  for (const auto& p : *projects) {
    const bool hosted = std::filesystem::exists(RepoPath(p.name));
    if (!hosted && p.repo_url.empty()) continue;
    if (!hosted) {
      // A remote that failed waits out its backoff here.
      auto v = store_.GetSetting(StrCat("sync/", p.name));
      nlohmann::json s = v ? nlohmann::json::parse(*v, nullptr, false) : nlohmann::json();
      if (s.is_object() && s["next_try_at"].is_string()) {
        auto next = core::ParseRfc3339(s["next_try_at"].get<std::string>());
        if (next && now < *next) continue;
      }
    }
    if (auto r = Sync(p.name); !r) {
      Log(LogLevel::kWarn, StrCat("git sync project=", p.name, ": ", r.error().message));
    }
  }
}

core::Result<std::vector<std::string>> GitIntake::ExportWorkspace(std::string_view project,
                                                                 std::string_view commit,
                                                                 const std::string& dir) {
  std::error_code ec;
  std::string path = RepoPath(project);
  if (!std::filesystem::exists(path, ec)) path = MirrorPath(project);
  auto repo = gitsync::Repo::Open(path);
  if (!repo) return std::unexpected(repo.error());
  auto summary = (*repo)->Export(commit, dir, {});
  if (!summary) return std::unexpected(summary.error());
  return summary->warnings;
}

}  // namespace sluss::daemon
