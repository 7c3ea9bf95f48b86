#include "intake/git_intake.h"

#include <malloc.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "auth/tokens.h"
#include "core/digest.h"
#include "core/job_spec.h"
#include "core/permit.h"
#include "core/pipeline.h"
#include "core/quantity.h"
#include "core/strings.h"
#include "logging/log.h"
#include "gitsync/gitsync.h"
#include "scheduler/admission.h"

namespace sluss::intake {

using logging::Log;
using logging::LogLevel;

using core::StrCat;

namespace {

// Gives the heap that was freed back to the system when it goes out of
// scope, if `*actions` is large: glibc keeps what a big push's parse and
// admission freed (20,000 actions: over 100 MB) and slussd would hold it.
class TrimHeapAfter {
 public:
  explicit TrimHeapAfter(const std::size_t* actions) : actions_(actions) {}
  ~TrimHeapAfter() {
#ifdef __GLIBC__
    if (*actions_ >= 1000) ::malloc_trim(0);
#endif
  }
  TrimHeapAfter(const TrimHeapAfter&) = delete;
  TrimHeapAfter& operator=(const TrimHeapAfter&) = delete;

 private:
  const std::size_t* actions_;
};

constexpr std::string_view kSkipMarker = "[skip sluss]";

std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The pre-receive hook: sluss-fetch checks every pushed commit's tree
// before git accepts it, and records who pushed each ref (the run is
// theirs). hook.env (rewritten at each start) names the program, the local
// identity for pushes over the file path and the file with slussd's key;
// the path known when the repository was made is the fallback. A hook that
// cannot run refuses the push, which is the safe way to fail.
std::string PreReceiveHook(std::string_view env, std::string_view helper) {
  return StrCat(
      "#!/bin/sh\n"
      "# Installed by slussd: refuses a push whose trees hold a name that could\n"
      "# leave a workspace (\"..\", \"/\", \".git\" in any spelling), naming the path,\n"
      "# and records who pushed (the person slussd authenticated, or git.local_pusher).\n"
      "SLUSS_FETCH=", ShellQuote(helper), "\n",
      "SLUSS_LOCAL_PUSHER= SLUSS_PUSH_KEY_FILE=\n"
      "if [ -r ", env, " ]; then . ", env, "; fi\n"
      "export SLUSS_LOCAL_PUSHER SLUSS_PUSH_KEY_FILE\n"
      "exec \"$SLUSS_FETCH\" --check-push\n");
}

// The post-receive hook: tells slussd which refs the push updated (git's
// own "OLD NEW REF" lines, as the body) and prints its answer, which the
// pusher sees as "remote: sluss: ...". Its token is in hooks/sluss-token
// (a header line for curl's -H @FILE, 0600), never on a command line.
//
// slussd answers when the push is admitted, which takes as long as the
// pipeline is big (seconds for thousands of actions): the hook waits that
// long, with a line every 15 s, up to SLUSS_HOOK_WAIT seconds (an hour
// unless the pusher's environment says otherwise). What it then says is
// what curl saw: slussd had the whole push (admission goes on there, and
// `sluss runs` shows its run), or never had it (slussd picks new tips
// up when it next starts). A fixed 60 s wait that then said the push "will
// be picked up when it next starts" was false for a slow admission.
std::string PostReceiveHook(std::string_view project, std::string_view env,
                            std::string_view token_file) {
  return StrCat(
      "#!/bin/sh\n"
      "# Installed by slussd for project ", project, ": tells slussd about each push.\n"
      "# Its token (hooks/sluss-token) may do nothing else. slussd writes where it\n"
      "# listens to hook.env at each start.\n"
      "SLUSS_API= SLUSS_CACERT=\n"
      "if [ -r ", env, " ]; then . ", env, "; fi\n"
      "if [ -z \"$SLUSS_API\" ]; then\n"
      "  echo \"sluss: slussd has not started yet; the push will be picked up when it starts\"\n"
      "  exit 0\n"
      "fi\n"
      "wait_s=${SLUSS_HOOK_WAIT:-3600}\n"
      "answer=$(mktemp) || exit 0\n"
      "trap 'rm -f \"$answer\" \"$answer.err\"' EXIT\n"
      "( n=0; while sleep 15 >/dev/null 2>&1; do n=$((n + 15));\n"
      "  echo \"sluss: slussd is admitting the push ($n s)\"; done ) &\n"
      "ticker=$!\n"
      "sent=$(curl -sS --connect-timeout 10 -m \"$wait_s\" -o \"$answer\" -w '%{size_upload}' ",
      "-X POST ${SLUSS_CACERT:+--cacert \"$SLUSS_CACERT\"} ",
      "-H @", ShellQuote(token_file), " -H 'Content-Type: text/plain' --data-binary @- \"$SLUSS_API\"",
      ShellQuote(StrCat("/v1/hooks/git/", project, "?format=text&pushed=1")),
      " 2>\"$answer.err\")\n"
      "rc=$?\n"
      "kill $ticker 2>/dev/null\n"
      "if [ $rc -eq 0 ]; then sed 's/^/sluss: /' \"$answer\"; exit 0; fi\n"
      "why=$(tail -n 1 \"$answer.err\")\n"
      "if [ $rc -eq 28 ] && [ \"${sent:-0}\" -gt 0 ]; then\n"
      "  echo \"sluss: slussd is still admitting the push after $wait_s s; it goes on there, \"\\\n"
      "\"and 'sluss runs' will show the run (or 'sluss status' why not)\"\n"
      "elif [ \"${sent:-0}\" -gt 0 ]; then\n"
      "  echo \"sluss: slussd took the push but did not answer ($why); 'sluss runs' \"\\\n"
      "\"shows whether the run was made, and slussd admits what it missed when it next starts\"\n"
      "else\n"
      "  echo \"sluss: slussd did not answer ($why); the push will be picked up when it \"\\\n"
      "\"next starts\"\n"
      "fi\n"
      "exit 0\n");
}

core::Result<void> WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (out) ::chmod(tmp.c_str(), mode);
    out << text;
    if (!out) return core::Internal(StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  if (std::filesystem::rename(tmp, path, ec); ec)
    return core::Internal(StrCat("cannot rename ", tmp, ": ", ec.message()));
  return {};
}

// Installs the post-receive hook with its token in hooks/sluss-token. An
// empty `secret`: the token is the one already there, or the one an older
// hook held in its script (moved out of it here).
core::Result<void> InstallPostReceive(const std::string& repo, std::string_view project,
                                      std::string_view env, std::string secret) {
  const std::string token_file = repo + "/hooks/sluss-token";
  const std::string hook = repo + "/hooks/post-receive";
  if (secret.empty()) {
    std::ifstream in(token_file);
    std::string line;
    if (std::getline(in, line) && line.starts_with("Authorization: Bearer ")) {
      secret = line.substr(22);
    } else {
      std::ifstream old(hook);
      std::stringstream text;
      text << old.rdbuf();
      const std::string s = text.str();
      const auto at = s.find("Authorization: Bearer slu_");
      if (at == std::string::npos) return {};  // not a hook slussd made: left alone
      secret = s.substr(at + 22, 68);
    }
  }
  if (auto r = WriteFile(token_file, StrCat("Authorization: Bearer ", secret, "\n"), 0600); !r)
    return r;
  return WriteFile(hook, PostReceiveHook(project, env, token_file), 0700);
}

core::Result<void> InstallPushChecks(const std::string& repo, std::string_view env,
                                     std::string_view helper) {
  if (auto r = gitsync::Repo::ConfigureReceiveChecks(repo); !r) return r;
  return WriteFile(repo + "/hooks/pre-receive", PreReceiveHook(env, helper), 0700);
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
  std::string env = ShellQuote(StrCat(options_.repos_dir, "/hook.env"));
  if (auto r = InstallPushChecks(path, env, options_.fetch_helper); !r) {
    return std::unexpected(r.error());
  }
  // The hook's own token: it may only notify slussd about this project.
  auto token = auth::IssueToken(store_, clock_.Now(), StrCat("hook:", project),
                                    core::Role::kHook, "post-receive hook", std::nullopt);
  if (!token) return std::unexpected(token.error());
  if (auto r = InstallPostReceive(path, project, env, token->second); !r)
    return std::unexpected(r.error());
  return CloneUrl(project);
}

std::string GitIntake::CloneUrl(std::string_view project) const {
  std::error_code ec;
  if (!std::filesystem::exists(RepoPath(project), ec)) return "";
  std::string base = options_.public_url;
  if (base.empty()) {
    std::lock_guard lock(url_mu_);
    base = api_url_;
  }
  while (base.ends_with('/')) base.pop_back();
  return StrCat(base, "/git/", project, ".git");
}

core::Result<void> GitIntake::WriteHookEnv(std::string_view api_url) {
  {
    std::lock_guard lock(url_mu_);
    api_url_ = std::string(api_url);
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.repos_dir, ec);
  const std::string key_file = StrCat(options_.repos_dir, "/.push-key");
  if (auto r = WriteFile(key_file, options_.push_key + "\n", 0600); !r) return r;
  std::string path = StrCat(options_.repos_dir, "/hook.env");
  std::ostringstream text;
  text << "# Written by slussd at each start: where the hooks reach it.\n"
       << "SLUSS_API=" << ShellQuote(api_url) << "\n"
       << "SLUSS_CACERT=" << ShellQuote(options_.ca_cert) << "\n"
       << "SLUSS_FETCH=" << ShellQuote(options_.fetch_helper) << "\n"
       << "# Pushes over the file path are credited to this person (git.local_pusher);\n"
       << "# empty: refused.\n"
       << "SLUSS_LOCAL_PUSHER=" << ShellQuote(options_.local_pusher) << "\n"
       << "SLUSS_PUSH_KEY_FILE=" << ShellQuote(key_file) << "\n";
  if (auto r = WriteFile(path, text.str(), 0644); !r) return r;
  // Repositories made before get the current hooks now.
  const std::string env = ShellQuote(path);
  for (const auto& entry : std::filesystem::directory_iterator(options_.repos_dir, ec)) {
    if (entry.path().extension() != ".git" || !entry.is_directory(ec)) continue;
    if (auto r = InstallPushChecks(entry.path(), env, options_.fetch_helper); !r) return r;
    if (auto r = InstallPostReceive(entry.path(), entry.path().stem().string(), env, ""); !r)
      return r;
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
  const bool hosted = std::filesystem::exists(RepoPath(project->name));
  if (tracked.empty()) {
    auto def = (*repo)->DefaultBranch();
    if (!def) return std::unexpected(def.error());
    tracked.insert(*def);
    // A hosted repository's default branch is fixed as on a forge: its
    // first push sets it, and a push cannot delete it (the pre-receive
    // hook), so no other branch, and no other pusher's tip, takes its
    // place. A mirror's HEAD is libgit2's: its only branch is tracked.
    bool present = std::any_of(branches->begin(), branches->end(),
                               [&](const auto& b) { return b.ref == *def; });
    if (!hosted && !present && branches->size() == 1) tracked = {branches->front().ref};
  }
  std::vector<core::SyncOutcome> out;
  std::vector<std::string> tracked_names;
  for (const auto& t : tracked) tracked_names.push_back(t.substr(11));
  for (const auto& tip : *branches) {
    if (!tracked.contains(tip.ref)) {
      core::SyncOutcome o;
      o.ref = tip.ref;
      o.commit = tip.commit;
      o.skipped = true;
      o.tracked = false;
      std::vector<std::string> with = tracked_names;
      with.push_back(tip.ref.substr(11));
      o.message = StrCat("branch ", tip.ref.substr(11), " is not tracked by project ",
                         project->name, " (tracked: ", core::Join(tracked_names, ", "),
                         "), so this push makes no run; an admin tracks it with 'sluss project "
                         "set ", project->name, " --branches ", core::Join(with, ","), "'");
      out.push_back(std::move(o));
      continue;
    }
    RunSpec spec;
    spec.ref = tip.ref;
    spec.sha = tip.commit;
    spec.trigger = "push";
    spec.dedupe_key = StrCat("push:", project->name, ":", tip.ref, ":", tip.commit);
    // A hosted repository's run is the pusher's, as its pre-receive hook
    // recorded them; a mirror's, which no one pushed to here, its author's.
    if (hosted) {
      auto record = gitsync::ReadPushRecord(RepoPath(project->name), tip.ref, tip.commit);
      spec.submitted_by = record ? record->pusher : std::string();
      spec.pusher_required = true;
    }
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
}  // namespace

core::Result<core::SyncOutcome> GitIntake::MakeRun(const core::Project& project,
                                                   gitsync::Repo& repo,
                                                   const RunSpec& spec) {
  // Declared first, so that it runs last, after every other local is freed.
  std::size_t actions = 0;
  const TrimHeapAfter trim(&actions);
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
  if (spec.pusher_required && spec.submitted_by.empty()) {
    // No record of who pushed it (a ref updated without the hook): no one
    // to credit, so no run.
    o.skipped = true;
    o.message = StrCat(sha.substr(0, 10), ": no record of who pushed it, so no run; push it "
                       "over HTTPS with a sluss token");
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

  // The I/O around admission: read sluss.yaml and the tree, hash each
  // action's code, gather the facts. Every decision is scheduler::Admit's.
  // Files over the parser's limit are read in full so that it can say how
  // big they are; past 16 MiB we stop reading.
  // A tree with a name that could leave a workspace (a mirrored remote's
  // commit: hosted repositories refuse it at push) makes a failed run that
  // names the path; nothing of it is ever written.
  auto files = repo.Files(sha);
  if (!files && files.error().code != core::ErrorCode::kInvalidArgument)
    return std::unexpected(files.error());
  auto text = repo.ReadFile(sha, "sluss.yaml", 16 << 20);
  core::PipelineResult parsed = std::unexpected(core::Diagnostics{});
  if (!text) {
    if (text.error().code == core::ErrorCode::kNotFound) {
      parsed = std::unexpected(core::Diagnostics{
          {"sluss.yaml", {1, 1}, "no sluss.yaml at the repository root; add one (see docs/pipeline.md)"}});
    } else if (text.error().code == core::ErrorCode::kResourceExhausted) {
      parsed = std::unexpected(
          core::Diagnostics{{"sluss.yaml", {1, 1}, "the file is over 16 MiB; the limit is 1 MiB"}});
    } else {
      return std::unexpected(text.error());
    }
  } else {
    parsed = core::ParsePipeline(*text, "sluss.yaml");
    if (parsed) actions = parsed->actions.size();
  }
  scheduler::AdmissionFacts facts;
  facts.project = project.name;
  facts.quota = project.quota;
  facts.person = run.submitted_by;
  facts.now = clock_.Now();
  facts.largest_node = options_.largest_node;
  facts.defaults = options_.defaults;
  facts.commit_short = sha.substr(0, 10);
  facts.author_email = commit->author_email;
  facts.signature_status = signature.status;
  facts.signature_detail = signature.detail;
  facts.require_signed = options_.require_signed;
  facts.only_actions = spec.only_actions;
  facts.force = spec.force;
  if (!files) facts.tree_error = files.error().message;
  std::optional<core::Error> lookup_error;
  // Over the admin's limit on a run's size: refused up front (Admit says
  // why), before any per-action work.
  facts.max_actions = options_.max_actions_per_run;
  const bool too_many = parsed && options_.max_actions_per_run > 0 &&
                        parsed->actions.size() >
                            static_cast<std::size_t>(options_.max_actions_per_run);
  if (parsed && files && !too_many) {
    auto permits = store_.ListPermits(project.name);
    if (!permits) return std::unexpected(permits.error());
    facts.permits = std::move(*permits);
    auto versions = store_.ListDatasets();
    if (!versions) return std::unexpected(versions.error());
    facts.datasets = std::move(*versions);
    facts.images = options_.images->List();
    // Each distinct code selection hashed once: 20,000 actions that select
    // the same files walk the tree once, not 20,000 times.
    std::map<std::vector<std::string>, std::string> digests;
    for (const auto& a : parsed->actions) {
      auto [it, fresh] = digests.try_emplace(a.code);
      if (fresh) it->second = gitsync::TreeDigest(*files, a.code);
      facts.code_digests[a.name] = it->second;
    }
    if (project.quota.max_queued_jobs) {
      if (auto counts = store_.CountJobs(project.name))
        for (const auto& c : *counts)
          if (c.state == core::JobState::kPending) facts.queued += c.count;
    }
    facts.find_cached = [&](const std::string& key) -> std::optional<core::JobId> {
      auto hit = store_.FindSucceededJob(project.name, key);
      if (hit) return *hit;
      if (!lookup_error) lookup_error = hit.error();
      return std::nullopt;
    };
    facts.submission.repository =
        project.repo_url.empty() ? StrCat("sluss-hosted:", project.name) : project.repo_url;
    facts.submission.tree = commit->tree;
    facts.submission.pipeline_sha256 = core::Sha256Hex(*text);
    facts.submission.commit = core::CommitRecord{
        StrCat(commit->author_name, " <", commit->author_email, ">"),
        StrCat(commit->committer_name, " <", commit->committer_email, ">"),
        core::FormatRfc3339(commit->time),
        commit->message.substr(0, 4096),
        {signature.status, signature.format, signature.signer, signature.detail}};
  }
  auto admitted = scheduler::Admit(parsed, facts);
  if (!admitted) return std::unexpected(admitted.error());
  if (lookup_error) return std::unexpected(*lookup_error);
  run.errors = std::move(admitted->errors);
  for (auto& j : admitted->jobs) {
    core::NewJob job;
    job.action = j.spec.name;
    job.status = j.status;
    job.reason = std::move(j.reason);
    job.cache_key = std::move(j.cache_key);
    job.needs = j.spec.needs;
    job.spec_json = core::ToJson(j.spec).dump();
    run.jobs.push_back(std::move(job));
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
  if (!run.errors.empty() && !facts.tree_error.empty()) {
    o.message = StrCat("run ", created->id.value, " for ", sha.substr(0, 10), " failed: ",
                       core::Join(run.errors, "\n"));
  } else if (!run.errors.empty()) {
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
  gitsync::Repo::ExportLimits limits;
  limits.max_bytes = options_.max_workspace_bytes;
  auto summary = (*repo)->Export(commit, dir, limits);
  if (!summary && summary.error().code == core::ErrorCode::kResourceExhausted) {
    // The researcher's to act on, not ours: the job cannot start, and ends
    // workspace_limit (the engine maps this code).
    return core::Fail(core::ErrorCode::kResourceExhausted,
                      StrCat(summary.error().message,
                             ", the most a job's workspace may hold (git.max_workspace)"));
  }
  if (!summary) return std::unexpected(summary.error());
  return summary->warnings;
}

}  // namespace sluss::intake
