// The routes of git work: a push's hook (and forges' webhooks), the git
// request queue, webhook secrets, and runs of a commit asked for through the
// API.

#include <openssl/rand.h>

#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "api/api.h"
#include "api/internal/git_queue.h"
#include "api/internal/route_helpers.h"
#include "api/internal/routes.h"
#include "api/internal/views.h"
#include "core/digest.h"
#include "core/strings.h"

namespace sluss::api::internal {

using core::StrCat;
using nlohmann::json;

namespace {

json OutcomesJson(const std::vector<core::SyncOutcome>& outcomes) {
  json out = json::array();
  for (const auto& o : outcomes) {
    out.push_back({{"ref", o.ref}, {"commit", o.commit}, {"run_id", o.run.valid() ? json(o.run.value) : json()},
                   {"created", o.created}, {"skipped", o.skipped}, {"tracked", o.tracked},
                   {"message", o.message}});
  }
  return out;
}

// `text` with its control characters (C0, DEL and UTF-8's C1, which some
// terminals take as escapes) as \xNN, the newlines between lines kept.
std::string EscapeLines(std::string_view text) {
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  auto escape = [&](unsigned char ch) {
    out += "\\x";
    out.push_back(kHex[ch >> 4]);
    out.push_back(kHex[ch & 15]);
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto ch = static_cast<unsigned char>(text[i]);
    const auto next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
    if (ch == 0xc2 && next >= 0x80 && next <= 0x9f) {
      escape(ch);
      escape(next);
      ++i;
    } else if (ch == '\n' || (ch >= 0x20 && ch != 0x7f)) {
      out.push_back(static_cast<char>(ch));
    } else {
      escape(ch);
    }
  }
  return out;
}

// 202: the git work is queued (GitQueue), to be followed at Location.
HttpResponse Accepted(const GitRequest& r, const std::string& message, bool text) {
  HttpResponse resp = Json(202, {{"request", View(r)}, {"message", message}});
  if (text) {
    resp.content_type = "text/plain; charset=utf-8";
    resp.body = message + "\n";
  }
  resp.headers.emplace_back("Location", StrCat("/v1/git/requests/", r.id));
  return resp;
}

HttpResponse QueueRefused(const core::Error& e) {
  HttpResponse r = ErrorResponse(503, "unavailable", e.message);
  r.headers.emplace_back("Retry-After", "60");
  return r;
}

}  // namespace

HttpResponse GitHook(Context& c) {
  const std::string& project = c.params.at("p");
  if (!c.CanSee(project)) return NotFound(StrCat("project ", core::Quote(project)));
  if (!c.git) return ErrorResponse(503, "unavailable", "this slussd does not sync repositories");
  // Forges send other events too (GitHub's first is a ping): only pushes sync.
  for (const char* h : {"x-github-event", "x-gitea-event", "x-gitlab-event"}) {
    const std::string event = c.req.Header(h);
    if (!event.empty() && event != "push" && event != "Push Hook")
      return Json(200, {{"project", project}, {"ignored", event}});
  }
  const bool text = [&] {
    auto f = c.req.query.find("format");
    return f != c.req.query.end() && f->second == "text";
  }();
  auto p = c.store.GetProject(project);
  if (!p) return FromError(p.error());
  if (!p->repo_url.empty()) {
    if (!c.git_queue) return ErrorResponse(503, "unavailable", "this slussd does not sync repositories");
    GitRequest r;
    r.project = project;
    r.kind = "sync";
    r.submitted_by = c.who.user;
    r.queued_at = c.now;
    auto queued = c.git_queue->Submit(r, [git = c.git, project]() -> core::Result<json> {
      auto outcomes = git->Sync(project);
      if (!outcomes) return std::unexpected(outcomes.error());
      return json{{"outcomes", OutcomesJson(*outcomes)}};
    });
    if (!queued) return QueueRefused(queued.error());
    return Accepted(*queued,
                    StrCat("request ", queued->id, ": ", p->repo_url,
                           " is fetched in the background; each new tip of a tracked branch "
                           "becomes a run (GET /v1/git/requests/", queued->id, ")"),
                    text);
  }
  auto outcomes = c.git->Sync(project);
  if (!outcomes) return FromError(outcomes.error());
  // From the post-receive hook (pushed=1), the body is git's "OLD NEW REF"
  // lines: the answer is about those refs alone (not another branch's run),
  // untracked ones included. Otherwise: the tracked branches.
  std::set<std::string> pushed;
  const bool from_hook = c.req.query.contains("pushed");
  if (from_hook) {
    std::istringstream lines(c.req.body);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream in(line);
      std::string old_sha, new_sha, ref;
      if (in >> old_sha >> new_sha >> ref) pushed.insert(ref);
    }
  }
  std::vector<core::SyncOutcome> shown;
  for (auto& o : *outcomes) {
    if (from_hook ? pushed.contains(o.ref) : o.tracked) shown.push_back(std::move(o));
  }
  std::string message;
  for (const auto& o : shown) message += o.message + "\n";
  if (text) {
    HttpResponse r;
    r.content_type = "text/plain; charset=utf-8";
    // What the pusher's terminal shows: no control character of a branch
    // name, a commit or sluss.yaml reaches it raw.
    r.body = message.empty() ? "no tracked branch was pushed\n" : EscapeLines(message);
    return r;
  }
  return Json(200, {{"project", project}, {"outcomes", OutcomesJson(shown)}});
}

HttpResponse GetGitRequest(Context& c) {
  auto id = ParseId(c.params.at("id"));
  if (!id) return NotFound(StrCat("git request ", core::Quote(c.params.at("id"))));
  auto r = c.git_queue ? c.git_queue->Get(*id) : core::Result<GitRequest>(core::NotFound("git request"));
  if (!r || !c.CanSee(r->project)) return NotFound(StrCat("git request ", *id));
  return Json(200, View(*r));
}

// A new webhook secret for the project (replacing any before), shown once:
// the forge's webhook is set to POST to the hook URL with it.
HttpResponse CreateWebhook(Context& c) {
  auto project = VisibleProject(c);
  if (!project) return project.error();
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return ErrorResponse(500, "internal", "no randomness");
  const std::string secret = core::ToHex(raw, sizeof raw);
  if (auto r = c.store.PutSetting(StrCat("webhook/", project->name),
                                  json{{"secret", secret},
                                       {"created_by", c.who.user},
                                       {"created_at", core::FormatRfc3339(c.now)}}
                                      .dump(),
                                  c.now);
      !r)
    return FromError(r.error());
  return Json(201, {{"project", project->name},
                    {"path", StrCat("/v1/hooks/git/", project->name)},
                    {"secret", secret},
                    {"content_type", "application/json"},
                    {"events", {"push"}},
                    {"note", "the secret is shown once; GitHub and Gitea sign with it "
                             "(X-Hub-Signature-256), GitLab sends it (X-Gitlab-Token)"}});
}

HttpResponse StartRun(Context& c) {
  auto body = c.Body();
  if (!body) return FromError(body.error());
  if (auto r = OnlyKeys(*body, {"project", "ref", "commit", "actions", "force"}); !r) {
    return FromError(r.error());
  }
  auto project = StringField(*body, "project");
  if (!project) return FromError(project.error());
  if (!*project) return FieldError("project", "required");
  if (!c.CanSee(**project)) return NotFound(StrCat("project ", core::Quote(**project)));
  auto ref = StringField(*body, "ref");
  if (!ref) return FromError(ref.error());
  auto commit = StringField(*body, "commit");
  if (!commit) return FromError(commit.error());
  if (*ref && *commit) return FieldError("commit", "give ref or commit, not both");
  core::RunRequest req;
  req.project = **project;
  req.ref = commit->value_or(ref->value_or(""));
  if (*commit && (req.ref.size() != 40 ||
                  req.ref.find_first_not_of("0123456789abcdef") != std::string::npos)) {
    return FieldError("commit", "expected a full commit id (40 lower-case hex digits)");
  }
  if (body->contains("actions")) {
    const json& a = body->at("actions");
    if (!a.is_array()) return FieldError("actions", "expected a list of action names");
    for (const auto& x : a) {
      if (!x.is_string()) return FieldError("actions", "expected a list of action names");
      req.actions.push_back(x.get<std::string>());
    }
  }
  if (body->contains("force")) {
    if (!body->at("force").is_boolean()) return FieldError("force", "expected true or false");
    req.force = body->at("force").get<bool>();
  }
  req.submitted_by = c.who.user;
  if (!c.git) return ErrorResponse(503, "unavailable", "this slussd does not sync repositories");
  auto project_row = c.store.GetProject(req.project);
  if (!project_row) return FromError(project_row.error());
  if (!project_row->repo_url.empty()) {
    // A remote is fetched first: on the git queue, not on this worker.
    if (!c.git_queue) return ErrorResponse(503, "unavailable", "this slussd does not sync repositories");
    GitRequest r;
    r.project = req.project;
    r.kind = "run";
    r.submitted_by = c.who.user;
    r.queued_at = c.now;
    auto queued = c.git_queue->Submit(r, [git = c.git, req]() -> core::Result<json> {
      auto outcome = git->StartRun(req);
      if (!outcome) return std::unexpected(outcome.error());
      return json{{"run_id", outcome->run.value}, {"commit", outcome->commit},
                  {"message", outcome->message}};
    });
    if (!queued) return QueueRefused(queued.error());
    return Accepted(*queued,
                    StrCat("request ", queued->id, ": ", project_row->repo_url,
                           " is fetched in the background, then the run is made "
                           "(GET /v1/git/requests/", queued->id, " says its id)"),
                    false);
  }
  auto outcome = c.git->StartRun(req);
  if (!outcome) return FromError(outcome.error());
  auto run = c.store.GetRun(outcome->run);
  if (!run) return FromError(run.error());
  auto jobs = c.store.ListJobs(run->id);
  if (!jobs) return FromError(jobs.error());
  json out = View(*run);
  out["jobs"] = json::array();
  for (const auto& j : *jobs) out["jobs"].push_back(View(j));
  out["message"] = outcome->message;
  HttpResponse resp = Json(201, out);
  resp.headers.emplace_back("Location", StrCat("/v1/runs/", run->id.value));
  return resp;
}

}  // namespace sluss::api::internal
