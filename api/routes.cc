// Route handlers. Each is a plain function of the request context; the
// role check has already happened (api.cc), the membership check is
// Context::CanSee.

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "api/api.h"
#include "api/internal/git_queue.h"
#include "api/internal/route_helpers.h"
#include "api/internal/routes.h"
#include "api/internal/views.h"
#include "auth/tokens.h"
#include "core/digest.h"
#include "core/quantity.h"
#include "core/quota.h"
#include "core/strings.h"

namespace sluss::api::internal {

using core::StrCat;
using nlohmann::json;

bool Context::CanSee(std::string_view project) const {
  switch (who.role) {
    case core::Role::kAdmin:
    case core::Role::kSteward:
    case core::Role::kAuditor:
      return true;
    case core::Role::kResearcher:
    case core::Role::kChecker:
      return std::find(who.projects.begin(), who.projects.end(), project) !=
             who.projects.end();
    case core::Role::kHook:
      return who.user == StrCat("hook:", project);
  }
  return false;
}

core::Result<json> Context::Body() const {
  if (req.body.empty()) return core::InvalidArgument("the request needs a JSON body", "body");
  // A key twice in one object is refused, not "last wins": a proxy or a
  // check that reads the first would see another request than slussd does.
  std::vector<std::set<std::string>> keys;  // of each open object
  std::optional<std::string> duplicate;
  json::parser_callback_t check = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) keys.emplace_back();
    if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    if (event == json::parse_event_t::key && !keys.empty() && parsed.is_string() &&
        !keys.back().insert(parsed.get<std::string>()).second && !duplicate) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json j = json::parse(req.body, check, /*allow_exceptions=*/false);
  if (j.is_discarded()) return core::InvalidArgument("the body is not valid JSON", "body");
  if (duplicate) {
    return core::InvalidArgument(StrCat("the key ", core::Quote(*duplicate), " appears twice in one object"),
                                 "body");
  }
  if (!j.is_object()) return core::InvalidArgument("the body must be a JSON object", "body");
  return j;
}

HttpResponse NotFound(std::string_view what) {
  return ErrorResponse(404, "not_found", StrCat("no ", what));
}

namespace {

// Researchers act on their own projects' jobs; admins on all.
bool MayAct(const Context& c, std::string_view project) {
  return c.IsAdmin() || (c.who.role == core::Role::kResearcher && c.CanSee(project));
}

// Moves a job and answers with it; `from` decides the source status.
HttpResponse Move(Context& c, const core::Job& job, core::StatusCode to,
                  std::string_view reason) {
  auto moved = c.store.TransitionJob(job.id, job.status, to, reason, c.now);
  if (!moved) {
    if (moved.error().code == core::ErrorCode::kFailedPrecondition) {
      return ErrorResponse(409, "failed_precondition",
                           StrCat("job ", job.id.value, " is ", core::Name(job.state()), "/",
                                  core::Name(job.status), ": ", moved.error().message),
                           {{"status_code", core::Name(job.status)}});
    }
    return FromError(moved.error());
  }
  return Json(200, View(*moved));
}

}  // namespace

// A hosted repository is read where it is, at once; a remote is fetched
// first, on the git queue, and the caller gets 202 at once.
HttpResponse Whoami(Context& c) {
  if (c.who.projects.empty() && !(c.who.role == core::Role::kResearcher ||
                                  c.who.role == core::Role::kChecker)) {
    auto p = c.store.ProjectsOf(c.who.user);
    if (!p) return FromError(p.error());
    c.who.projects = std::move(*p);
  }
  return Json(200, {{"user", c.who.user},
                    {"role", core::Name(c.who.role)},
                    {"projects", c.who.projects},
                    {"token_id", c.who.token_id}});
}

HttpResponse ListProjects(Context& c) {
  auto all = c.store.ListProjects();
  if (!all) return FromError(all.error());
  json out = json::array();
  for (const auto& p : *all) {
    if (c.CanSee(p.name)) out.push_back(View(p));
  }
  return Json(200, {{"projects", out}});
}

// A list of branch names, each one git would take ("main", "release/1").
std::expected<std::vector<std::string>, HttpResponse> BranchesField(const json& b) {
  auto bad = [] { return std::unexpected(FieldError("branches", "expected a list of branch names")); };
  if (!b.is_array()) return bad();
  std::vector<std::string> out;
  for (const auto& x : b) {
    if (!x.is_string()) return bad();
    const std::string name = x.get<std::string>();
    if (name.empty() || name.size() > 255 || name.starts_with('-') || name.starts_with('/') ||
        name.ends_with('/') || name.ends_with(".lock") || name.find("..") != std::string::npos ||
        name.find_first_of(" ~^:?*[\\,") != std::string::npos ||
        std::any_of(name.begin(), name.end(),
                    [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; })) {
      return std::unexpected(FieldError(
          "branches", StrCat(core::Quote(name), " is not a branch name git would take")));
    }
    out.push_back(name);
  }
  return out;
}

HttpResponse CreateProject(Context& c) {
  auto body = c.Body();
  if (!body) return FromError(body.error());
  if (auto r = OnlyKeys(*body, {"name", "description", "repo_url", "branches", "quota", "hosted"}); !r) {
    return FromError(r.error());
  }
  core::Project p;
  auto name = StringField(*body, "name");
  if (!name) return FromError(name.error());
  if (!*name) return FieldError("name", "required");
  p.name = **name;
  auto desc = StringField(*body, "description");
  if (!desc) return FromError(desc.error());
  p.description = desc->value_or("");
  auto repo = StringField(*body, "repo_url");
  if (!repo) return FromError(repo.error());
  p.repo_url = repo->value_or("");
  // A secret in the URL would be stored, shown and logged with it.
  if (auto scheme = p.repo_url.find("://"); scheme != std::string::npos) {
    auto at = p.repo_url.find('@', scheme + 3);
    auto slash = p.repo_url.find('/', scheme + 3);
    if (at != std::string::npos && (slash == std::string::npos || at < slash) &&
        p.repo_url.substr(scheme + 3, at - scheme - 3).find(':') != std::string::npos) {
      return FieldError("repo_url",
                        "holds a password or token; give the URL without it, and the token in a "
                        "file that slussd's config names (git.credentials)");
    }
  }
  if (body->contains("branches")) {
    auto b = BranchesField(body->at("branches"));
    if (!b) return b.error();
    p.branches = std::move(*b);
  }
  if (body->contains("quota")) {
    auto q = core::QuotaFromJson(body->at("quota"));
    if (!q) {
      return ErrorResponse(400, "invalid_argument",
                           StrCat("quota.", q.error().field, ": ", q.error().message),
                           {{"field", StrCat("quota.", q.error().field)}});
    }
    p.quota = *q;
  }
  bool hosted = false;
  if (body->contains("hosted")) {
    if (!body->at("hosted").is_boolean()) return FieldError("hosted", "expected true or false");
    hosted = body->at("hosted").get<bool>();
  }
  if (hosted && !c.git) {
    return ErrorResponse(503, "unavailable", "this slussd does not host repositories");
  }
  if (hosted && !p.repo_url.empty()) {
    return FieldError("repo_url", "a hosted project has no remote repo_url");
  }
  p.created_at = c.now;
  if (auto r = c.store.CreateProject(p); !r) return FromError(r.error());
  std::string push_url;
  if (hosted) {
    auto url = c.git->CreateHosted(p.name);
    if (!url) return FromError(url.error());
    push_url = *url;
  }
  // Where the repository is on slussd's host (for the site's admins, who
  // may push over the file path as git.local_pusher).
  const std::string repo_path = hosted && c.git ? c.git->RepoPathOf(p.name) : std::string();
  auto stored = c.store.GetProject(p.name);
  if (!stored) return FromError(stored.error());
  json view = View(*stored);
  view["hosted"] = hosted;
  if (hosted) {
    view["push_url"] = push_url;
    view["clone_url"] = push_url;
    view["repo_path"] = repo_path;
  }
  HttpResponse resp = Json(201, view);
  resp.headers.emplace_back("Location", StrCat("/v1/projects/", p.name));
  return resp;
}

HttpResponse GetProject(Context& c) {
  auto p = VisibleProject(c);
  if (!p) return p.error();
  json out = View(*p);
  // The last fetch of a remote repository: {"ok", "url", "at", "error"}.
  auto sync = c.store.GetSetting(StrCat("sync/", p->name));
  out["sync"] = sync ? json::parse(*sync, nullptr, false) : json();
  if (out["sync"].is_discarded()) out["sync"] = nullptr;
  // Paused by an admin: {"paused": true, "reason", "by", "at"}; else null.
  auto paused = c.store.GetSetting(StrCat("project/", p->name));
  json pj = paused ? json::parse(*paused, nullptr, false) : json();
  out["paused"] = pj.is_object() && pj.value("paused", false) ? pj : json();
  // A hosted project's HTTPS URL for git clone and push.
  if (c.git) {
    if (auto url = c.git->CloneUrl(p->name); !url.empty()) out["clone_url"] = url;
  }
  return Json(200, out);
}

// PATCH /v1/projects/{p}: {"branches": [...]}, the branches whose pushes
// make runs ([]: the default branch).
HttpResponse PatchProject(Context& c) {
  auto p = VisibleProject(c);
  if (!p) return p.error();
  auto body = c.Body();
  if (!body) return FromError(body.error());
  if (auto r = OnlyKeys(*body, {"branches"}); !r) return FromError(r.error());
  if (!body->contains("branches")) return FieldError("branches", "required");
  auto branches = BranchesField(body->at("branches"));
  if (!branches) return branches.error();
  auto updated = c.store.UpdateBranches(p->name, *branches);
  if (!updated) return FromError(updated.error());
  json out = View(*updated);
  if (c.git) {
    if (auto url = c.git->CloneUrl(p->name); !url.empty()) out["clone_url"] = url;
  }
  return Json(200, out);
}

HttpResponse GetQuota(Context& c) {
  auto p = VisibleProject(c);
  if (!p) return p.error();
  return Json(200, core::QuotaToJson(p->quota));
}

HttpResponse PutQuota(Context& c) {
  auto p = VisibleProject(c);
  if (!p) return p.error();
  auto body = c.Body();
  if (!body) return FromError(body.error());
  auto q = core::QuotaFromJson(*body);
  if (!q) return FromError(q.error());
  auto updated = c.store.UpdateQuota(p->name, *q);
  if (!updated) return FromError(updated.error());
  return Json(200, core::QuotaToJson(updated->quota));
}

HttpResponse ListMembers(Context& c) {
  auto p = VisibleProject(c);
  if (!p) return p.error();
  auto m = c.store.ListMembers(p->name);
  if (!m) return FromError(m.error());
  return Json(200, {{"project", p->name}, {"members", *m}});
}

HttpResponse AddMember(Context& c) {
  auto p = VisibleProject(c);
  if (!p) return p.error();
  const std::string& user = c.params.at("user");
  if (auto r = c.store.EnsureUser(user, c.now); !r) return FromError(r.error());
  if (auto r = c.store.AddMember(p->name, user); !r) return FromError(r.error());
  return ListMembers(c);
}

HttpResponse RemoveMember(Context& c) {
  auto p = VisibleProject(c);
  if (!p) return p.error();
  if (auto r = c.store.RemoveMember(p->name, c.params.at("user")); !r) {
    return FromError(r.error());
  }
  return ListMembers(c);
}

HttpResponse ListRuns(Context& c) {
  core::RunFilter f;
  const auto& q = c.req.query;
  if (auto it = q.find("project"); it != q.end() && !it->second.empty()) {
    if (!c.CanSee(it->second)) return Json(200, {{"runs", json::array()}, {"next_cursor", nullptr}});
    f.project = it->second;
  } else if (c.who.role == core::Role::kResearcher || c.who.role == core::Role::kChecker) {
    f.projects = c.who.projects;
  }
  if (auto it = q.find("state"); it != q.end() && !it->second.empty()) {
    auto s = core::ParseRunState(it->second);
    if (!s) {
      return FieldError("state", "expected pending, running, succeeded, failed or cancelled");
    }
    f.state = *s;
  }
  // A branch name ("main") or a full ref ("refs/heads/main", "refs/tags/v1").
  if (auto it = q.find("branch"); it != q.end() && !it->second.empty()) {
    f.ref = it->second.starts_with("refs/") ? it->second : "refs/heads/" + it->second;
  }
  if (auto it = q.find("limit"); it != q.end()) {
    auto v = ParseId(it->second);
    if (!v || *v > 1000) return FieldError("limit", "expected a whole number from 1 to 1000");
    f.limit = static_cast<int>(*v);
  }
  if (auto it = q.find("cursor"); it != q.end() && !it->second.empty()) {
    auto v = ParseId(it->second);
    if (!v) return FieldError("cursor", "expected the next_cursor of a previous page");
    f.before = core::RunId{*v};
  }
  auto runs = c.store.ListRuns(f);
  if (!runs) return FromError(runs.error());
  json out = json::array();
  for (const auto& r : *runs) out.push_back(View(r));
  json next = runs->size() == static_cast<std::size_t>(f.limit) && !runs->empty()
                  ? json(std::to_string(runs->back().id.value))
                  : json();
  return Json(200, {{"runs", out}, {"next_cursor", next}});
}

HttpResponse GetRun(Context& c) {
  auto run = VisibleRun(c);
  if (!run) return run.error();
  json out = View(*run);
  // Counts by state and by status, from the index: what a summary of a
  // large run needs without its jobs.
  auto counts = c.store.CountRunJobs(run->id);
  if (!counts) return FromError(counts.error());
  json by_state = json::object(), by_status = json::object();
  for (const auto& [code, n] : *counts) {
    by_status[std::string(core::Name(code))] = n;
    const std::string state(core::Name(core::StateOf(code)));
    by_state[state] = by_state.value(state, std::int64_t{0}) + n;
  }
  out["job_counts"] = {{"by_state", by_state}, {"by_status", by_status}};
  // Jobs: all of them, or a page (jobs_limit, cursor), or only those that
  // need attention (jobs=attention: running, failed, or waiting for a
  // reason other than their dependencies).
  const auto& q = c.req.query;
  auto limit = QueryInt(c, "jobs_limit", 0);
  if (!limit) return limit.error();
  if (*limit > 10000) return FieldError("jobs_limit", "expected a whole number from 1 to 10000");
  auto cursor = QueryInt(c, "cursor", 0);
  if (!cursor) return cursor.error();
  std::vector<core::StatusCode> statuses;
  if (auto it = q.find("jobs"); it != q.end() && !it->second.empty()) {
    if (it->second != "attention") return FieldError("jobs", "expected attention");
    for (int i = 0; i < core::kStatusCodeCount; ++i) {
      const auto code = static_cast<core::StatusCode>(i);
      const core::JobState state = core::StateOf(code);
      if (state == core::JobState::kRunning || state == core::JobState::kFailed ||
          (state == core::JobState::kPending && code != core::StatusCode::kWaitingOnDependencies))
        statuses.push_back(code);
    }
  }
  if (*limit == 0 && statuses.empty() && *cursor == 0) {
    auto jobs = c.store.ListJobs(run->id);
    if (!jobs) return FromError(jobs.error());
    out["jobs"] = json::array();
    for (const auto& j : *jobs) out["jobs"].push_back(View(j));
    out["jobs_next_cursor"] = nullptr;
    return Json(200, out);
  }
  const int page = *limit == 0 ? 1000 : static_cast<int>(*limit);
  auto jobs = c.store.ListRunJobs(run->id, *cursor, page, statuses);
  if (!jobs) return FromError(jobs.error());
  out["jobs"] = json::array();
  for (const auto& j : *jobs) out["jobs"].push_back(View(j));
  out["jobs_next_cursor"] = jobs->size() == static_cast<std::size_t>(page)
                                ? json(std::to_string(jobs->back().id.value))
                                : json();
  return Json(200, out);
}

// The jobs that have not ended (the queue), oldest first, each with its
// reason: ?state=pending or running narrows it; ?project= to one project.
// Researchers and checkers see their projects' only.
HttpResponse ListJobs(Context& c) {
  std::optional<core::JobState> state;
  if (auto it = c.req.query.find("state"); it != c.req.query.end() && !it->second.empty()) {
    if (it->second == "pending") state = core::JobState::kPending;
    else if (it->second == "running") state = core::JobState::kRunning;
    else return FieldError("state", "expected pending or running (ended jobs are in their runs)");
  }
  std::string project;
  if (auto it = c.req.query.find("project"); it != c.req.query.end()) project = it->second;
  auto active = c.store.ListActiveJobs();
  if (!active) return FromError(active.error());
  json out = json::array();
  for (const auto& j : active->jobs) {
    if (state && j.state() != *state) continue;
    if (!project.empty() && j.project != project) continue;
    if (!c.CanSee(j.project)) continue;
    out.push_back(View(j));
  }
  return Json(200, {{"jobs", out}});
}

HttpResponse CancelRun(Context& c) {
  auto run = VisibleRun(c);
  if (!run) return run.error();
  if (!MayAct(c, run->project)) {
    return ErrorResponse(403, "permission_denied", "only the project's researchers or an admin may cancel");
  }
  auto jobs = c.store.ListJobs(run->id);
  if (!jobs) return FromError(jobs.error());
  auto code = c.IsAdmin() ? core::StatusCode::kKilledByAdmin : core::StatusCode::kCancelledByUser;
  int cancelled = 0;
  for (const auto& j : *jobs) {
    if (core::IsTerminal(j.status)) continue;
    // A job that moved meanwhile is retried once with its new status.
    auto r = c.store.TransitionJob(j.id, j.status, code, StrCat("cancelled by ", c.who.user), c.now);
    if (!r && r.error().code == core::ErrorCode::kConflict) {
      auto fresh = c.store.GetJob(j.id);
      if (fresh && !core::IsTerminal(fresh->status)) {
        r = c.store.TransitionJob(j.id, fresh->status, code, StrCat("cancelled by ", c.who.user), c.now);
      }
    }
    if (r) ++cancelled;
  }
  auto after = c.store.GetRun(run->id);
  if (!after) return FromError(after.error());
  json out = View(*after);
  out["cancelled_jobs"] = cancelled;
  return Json(200, out);
}

HttpResponse GetJob(Context& c) {
  auto job = VisibleJob(c);
  if (!job) return job.error();
  return Json(200, View(*job));
}

HttpResponse ListJobEvents(Context& c) {
  auto job = VisibleJob(c);
  if (!job) return job.error();
  auto events = c.store.ListJobEvents(job->id);
  if (!events) return FromError(events.error());
  json out = json::array();
  for (const auto& e : *events) out.push_back(View(e));
  return Json(200, {{"job_id", job->id.value}, {"events", out}});
}

HttpResponse CancelJob(Context& c) {
  auto job = VisibleJob(c);
  if (!job) return job.error();
  if (!MayAct(c, job->project)) {
    return ErrorResponse(403, "permission_denied", "only the project's researchers or an admin may cancel");
  }
  return Move(c, *job, c.IsAdmin() ? core::StatusCode::kKilledByAdmin : core::StatusCode::kCancelledByUser,
              StrCat("cancelled by ", c.who.user));
}

HttpResponse RetryJob(Context& c) {
  auto job = VisibleJob(c);
  if (!job) return job.error();
  if (!MayAct(c, job->project)) {
    return ErrorResponse(403, "permission_denied", "only the project's researchers or an admin may retry");
  }
  return Move(c, *job, core::StatusCode::kWaitingOnResources, StrCat("retried by ", c.who.user));
}

HttpResponse HoldJob(Context& c) {
  auto job = VisibleJob(c);
  if (!job) return job.error();
  if (!MayAct(c, job->project)) {
    return ErrorResponse(403, "permission_denied", "only the project's researchers or an admin may hold");
  }
  if (job->status == core::StatusCode::kHeld) return Json(200, View(*job));  // idempotent
  if (job->state() != core::JobState::kPending) {
    return ErrorResponse(409, "failed_precondition",
                         StrCat("job ", job->id.value, " is ", core::Name(job->state()),
                                "; only pending jobs can be held"));
  }
  return Move(c, *job, core::StatusCode::kHeld, StrCat("held by ", c.who.user));
}

HttpResponse ReleaseJob(Context& c) {
  auto job = VisibleJob(c);
  if (!job) return job.error();
  if (!MayAct(c, job->project)) {
    return ErrorResponse(403, "permission_denied", "only the project's researchers or an admin may release");
  }
  if (job->status != core::StatusCode::kHeld) {
    return ErrorResponse(409, "failed_precondition",
                         StrCat("job ", job->id.value, " is not held"));
  }
  return Move(c, *job, core::StatusCode::kWaitingOnResources, StrCat("released by ", c.who.user));
}

HttpResponse ListTokens(Context& c) {
  std::optional<std::string> user;
  if (!c.IsAdmin()) user = c.who.user;
  auto tokens = c.store.ListTokens(user);
  if (!tokens) return FromError(tokens.error());
  json out = json::array();
  for (const auto& t : *tokens) out.push_back(View(t));
  return Json(200, {{"tokens", out}});
}

HttpResponse CreateToken(Context& c) {
  auto body = c.Body();
  if (!body) return FromError(body.error());
  if (auto r = OnlyKeys(*body, {"user", "role", "name", "expires_in"}); !r) return FromError(r.error());
  auto user = StringField(*body, "user");
  if (!user) return FromError(user.error());
  auto role_name = StringField(*body, "role");
  if (!role_name) return FromError(role_name.error());
  auto name = StringField(*body, "name");
  if (!name) return FromError(name.error());
  auto ttl_text = StringField(*body, "expires_in");
  if (!ttl_text) return FromError(ttl_text.error());
  std::string for_user = user->value_or(c.who.user);
  core::Role role = c.who.role;
  if (*role_name) {
    auto r = core::ParseRole(**role_name);
    if (!r) return FieldError("role", "expected researcher, steward, admin, checker or auditor");
    role = *r;
  }
  // Anyone may make more tokens for themselves with their own role; only
  // admins make tokens for others or other roles.
  if (!c.IsAdmin() && (for_user != c.who.user || role != c.who.role)) {
    return ErrorResponse(403, "permission_denied",
                         "only admins create tokens for other users or roles");
  }
  std::optional<std::chrono::seconds> ttl = std::chrono::seconds(90LL * 24 * 3600);
  if (*ttl_text) {
    auto d = core::ParseDuration(**ttl_text);
    if (!d || d->count() == 0) {
      return FieldError("expires_in", d ? "must be more than 0s" : d.error().message);
    }
    ttl = *d;
  }
  // A token never outlives the token that made it: else a stolen
  // short-lived token would mint long-lived ones.
  if (c.who.expires_at && c.now + *ttl > *c.who.expires_at) {
    ttl = std::chrono::duration_cast<std::chrono::seconds>(*c.who.expires_at - c.now);
  }
  auto issued = auth::IssueToken(c.store, c.now, for_user, role, name->value_or(""), ttl);
  if (!issued) return FromError(issued.error());
  json out = View(issued->first);
  out["token"] = issued->second;
  return Json(201, out);
}

HttpResponse RevokeToken(Context& c) {
  auto id = ParseId(c.params.at("id"));
  if (!id) return NotFound(StrCat("token ", core::Quote(c.params.at("id"))));
  auto tokens = c.store.ListTokens(c.IsAdmin() ? std::nullopt : std::optional<std::string>(c.who.user));
  if (!tokens) return FromError(tokens.error());
  auto it = std::find_if(tokens->begin(), tokens->end(), [&](const core::Token& t) { return t.id == *id; });
  if (it == tokens->end()) return NotFound(StrCat("token ", *id));
  if (auto r = c.store.RevokeToken(*id, c.now); !r) return FromError(r.error());
  it->revoked_at = it->revoked_at.value_or(c.now);
  return Json(200, View(*it));
}

HttpResponse ListImages(Context& c) {
  json out = json::array();
  for (const auto& i : c.image_service ? c.image_service->List() : c.images) out.push_back(View(i));
  return Json(200, {{"images", out}});
}

// POST /v1/images {"name", "rootfs"}: approve a directory on the node as an
// image. The digest is computed now, so the call takes as long as hashing
// the image does.
HttpResponse RegisterImage(Context& c) {
  if (!c.image_service) return ErrorResponse(503, "unavailable", "images cannot be registered here", {});
  auto body = c.Body();
  if (!body) return FromError(body.error());
  for (const char* f : {"name", "rootfs"})
    if (!body->contains(f) || !(*body)[f].is_string()) return FieldError(f, "required, a string");
  auto image = c.image_service->Register((*body)["name"].get<std::string>(),
                                         (*body)["rootfs"].get<std::string>(), c.who.user, c.now);
  if (!image) return FromError(image.error());
  return Json(201, View(*image));
}

namespace {

// Operator state kept as settings: {"paused"/"drained": bool, "reason",
// "by", "at"}.
json ReadSetting(Context& c, const std::string& key) {
  auto v = c.store.GetSetting(key);
  if (!v) return json::object();
  json j = json::parse(*v, nullptr, false);
  return j.is_object() ? j : json::object();
}

std::expected<std::string, HttpResponse> OptionalReason(Context& c) {
  if (c.req.body.empty()) return std::string();
  auto body = c.Body();
  if (!body) return std::unexpected(FromError(body.error()));
  if (auto r = OnlyKeys(*body, {"reason"}); !r) return std::unexpected(FromError(r.error()));
  auto reason = StringField(*body, "reason");
  if (!reason) return std::unexpected(FromError(reason.error()));
  return reason->value_or("");
}

HttpResponse SetFlag(Context& c, const std::string& key, const char* flag, bool on,
                     const std::string& reason) {
  json v = {{flag, on}, {"reason", reason}, {"by", c.who.user}, {"at", core::FormatRfc3339(c.now)}};
  if (auto r = c.store.PutSetting(key, v.dump(), c.now); !r) return FromError(r.error());
  return Json(200, v);
}

const core::Node* FindNode(Context& c) {
  for (const auto& n : c.nodes) {
    if (n.name == c.params.at("name")) return &n;
  }
  return nullptr;
}

}  // namespace

HttpResponse ListNodes(Context& c) {
  // What runs on each pool (placed there), and what waits that it could take.
  auto active = c.store.ListActiveJobs();
  if (!active) return FromError(active.error());
  json out = json::array();
  for (const auto& n : c.nodes) {
    PoolInfo info;
    if (c.pools)
      if (auto it = c.pools->find(n.name); it != c.pools->end()) info = it->second;
    int running = 0, pending = 0;
    core::Resources used{};
    for (const auto& j : active->jobs) {
      if (j.state() == core::JobState::kRunning && j.node == n.name) {
        ++running;
        if (j.placed) {  // what it was started with (always, since placements are kept)
          used.milli_cpus += j.placed->milli_cpus;
          used.memory_bytes += j.placed->memory_bytes;
        }
        used.gpus += static_cast<int>(j.gpus.size());
      } else if (j.state() == core::JobState::kPending &&
                 (info.projects.empty() || std::find(info.projects.begin(), info.projects.end(),
                                                     j.project) != info.projects.end())) {
        ++pending;
      }
    }
    json v = View(n);
    v["executor"] = info.executor;
    v["projects"] = info.projects;
    v["used"] = {{"cpus", core::FormatMilliCpus(used.milli_cpus)},
                 {"memory", core::FormatBytes(used.memory_bytes)},
                 {"gpus", used.gpus}};
    v["running"] = running;
    v["pending"] = pending;
    json s = ReadSetting(c, "node/" + n.name);
    if (s.value("drained", false)) {
      // Drained: nothing new starts; draining while what runs there ends.
      v["state"] = running > 0 ? "draining" : "drained";
      v["reason"] = s.value("reason", "");
    }
    out.push_back(v);
  }
  return Json(200, {{"nodes", out}});
}

HttpResponse DrainNode(Context& c) {
  const core::Node* n = FindNode(c);
  if (!n) return NotFound(StrCat("node ", core::Quote(c.params.at("name"))));
  auto reason = OptionalReason(c);
  if (!reason) return reason.error();
  return SetFlag(c, "node/" + n->name, "drained", true, *reason);
}

HttpResponse ResumeNode(Context& c) {
  const core::Node* n = FindNode(c);
  if (!n) return NotFound(StrCat("node ", core::Quote(c.params.at("name"))));
  return SetFlag(c, "node/" + n->name, "drained", false, "");
}

HttpResponse GetQueue(Context& c) {
  json q = ReadSetting(c, "queue");
  if (!q.contains("paused")) q = {{"paused", false}, {"reason", ""}, {"by", nullptr}, {"at", nullptr}};
  return Json(200, q);
}

HttpResponse PauseQueue(Context& c) {
  auto reason = OptionalReason(c);
  if (!reason) return reason.error();
  return SetFlag(c, "queue", "paused", true, *reason);
}

HttpResponse ResumeQueue(Context& c) { return SetFlag(c, "queue", "paused", false, ""); }

HttpResponse PauseProject(Context& c) {
  auto p = VisibleProject(c);
  if (!p) return p.error();
  auto reason = OptionalReason(c);
  if (!reason) return reason.error();
  return SetFlag(c, "project/" + p->name, "paused", true, *reason);
}

HttpResponse ResumeProject(Context& c) {
  auto p = VisibleProject(c);
  if (!p) return p.error();
  return SetFlag(c, "project/" + p->name, "paused", false, "");
}

}  // namespace sluss::api::internal
