// Route handlers: the airlock (release requests, reviews, downloads).

#include <nlohmann/json.hpp>

#include "api/http.h"
#include "api/internal/route_helpers.h"
#include "api/internal/routes_releases.h"
#include "core/strings.h"

namespace sluss::api::internal {

using core::StrCat;
using nlohmann::json;

namespace {

core::ReleaseActor ActorOf(const Context& c) { return {c.who.user, c.who.role}; }

HttpResponse Unavailable() {
  return ErrorResponse(503, "unavailable", "release requests are not available here", {});
}

std::expected<std::int64_t, HttpResponse> IdOf(Context& c) {
  auto id = ParseId(c.params["id"]);
  if (!id) return std::unexpected(NotFound("release request"));
  return *id;
}

HttpResponse Answer(const core::Result<core::Release>& r, int status = 200) {
  if (!r) {
    if (r.error().code == core::ErrorCode::kFailedPrecondition)
      return ErrorResponse(409, "failed_precondition", r.error().message, {});
    if (r.error().code == core::ErrorCode::kAlreadyExists)
      return ErrorResponse(409, "already_exists", r.error().message, {});
    return FromError(r.error());
  }
  return Json(status, core::ToJson(*r));
}

std::expected<std::string, HttpResponse> Text(const json& body, const char* name, bool required) {
  auto v = StringField(body, name);
  if (!v) return std::unexpected(FromError(v.error()));
  if (required && (!*v || (*v)->empty())) return std::unexpected(FieldError(name, "is required"));
  return v->value_or("");
}

}  // namespace

HttpResponse ListReleases(Context& c) {
  if (!c.releases) return Unavailable();
  std::string project;
  if (auto it = c.req.query.find("project"); it != c.req.query.end()) project = it->second;
  if (!project.empty() && !c.CanSee(project)) return NotFound("project");
  auto list = c.releases->List(ActorOf(c), project);
  if (!list) return FromError(list.error());
  json out = json::array();
  for (const auto& r : *list) out.push_back(core::ToJson(r));
  return Json(200, {{"releases", out}});
}

HttpResponse CreateRelease(Context& c) {
  if (!c.releases) return Unavailable();
  auto body = c.Body();
  if (!body) return FromError(body.error());
  if (auto ok = OnlyKeys(*body, {"project", "context"}); !ok) return FromError(ok.error());
  auto project = Text(*body, "project", true);
  if (!project) return project.error();
  auto context = Text(*body, "context", false);
  if (!context) return context.error();
  if (!c.CanSee(*project)) return NotFound("project");
  return Answer(c.releases->Create(ActorOf(c), *project, *context), 201);
}

HttpResponse GetRelease(Context& c) {
  if (!c.releases) return Unavailable();
  auto id = IdOf(c);
  if (!id) return id.error();
  return Answer(c.releases->Get(ActorOf(c), *id));
}

HttpResponse AddReleaseFile(Context& c) {
  if (!c.releases) return Unavailable();
  auto id = IdOf(c);
  if (!id) return id.error();
  auto body = c.Body();
  if (!body) return FromError(body.error());
  if (auto ok = OnlyKeys(*body, {"job", "path", "log", "group", "context", "controls", "exception"}); !ok)
    return FromError(ok.error());
  core::AddReleaseFile f;
  if (!body->contains("job") || !(*body)["job"].is_number_integer() || (*body)["job"].get<std::int64_t>() <= 0)
    return FieldError("job", "expected a job id");
  f.job = (*body)["job"].get<std::int64_t>();
  // An output by its path, or the job's full log by its stream.
  auto log = Text(*body, "log", false);
  if (!log) return log.error();
  f.log = *log;
  auto path = Text(*body, "path", f.log.empty());
  if (!path) return path.error();
  f.path = *path;
  for (auto [name, out] : {std::pair{"group", &f.group}, std::pair{"context", &f.context},
                           std::pair{"controls", &f.controls}, std::pair{"exception", &f.exception}}) {
    auto v = Text(*body, name, false);
    if (!v) return v.error();
    if (!v->empty()) *out = *v;
  }
  return Answer(c.releases->Add(ActorOf(c), *id, f));
}

HttpResponse RemoveReleaseFile(Context& c) {
  if (!c.releases) return Unavailable();
  auto id = IdOf(c);
  if (!id) return id.error();
  return Answer(c.releases->Apply(ActorOf(c), *id, {"remove", c.params["path"], ""}));
}

// The frozen bytes of one file of a released request, for members.
HttpResponse DownloadReleaseFile(Context& c) {
  if (!c.releases) return Unavailable();
  auto id = IdOf(c);
  if (!id) return id.error();
  auto file = c.releases->Download(ActorOf(c), *id, c.params["path"]);
  if (!file) {
    if (file.error().code == core::ErrorCode::kFailedPrecondition)
      return ErrorResponse(409, "failed_precondition", file.error().message, {});
    return FromError(file.error());
  }
  HttpResponse resp;
  resp.status = 200;
  resp.content_type = "application/octet-stream";
  resp.headers.emplace_back("X-Sluss-Sha256", file->sha256);
  resp.headers.emplace_back("Content-Disposition", "attachment");
  resp.body = std::move(file->bytes);
  return resp;
}

// POST /v1/releases/{id}/{move}: submit, withdraw and the checkers' review,
// return, reject, approve and release.
HttpResponse MoveRelease(Context& c) {
  if (!c.releases) return Unavailable();
  auto id = IdOf(c);
  if (!id) return id.error();
  std::string move = c.params["move"];
  static const char* const kMoves[] = {"submit", "withdraw", "review", "return",
                                       "reject", "approve", "release"};
  if (std::find(std::begin(kMoves), std::end(kMoves), move) == std::end(kMoves))
    return ErrorResponse(404, "not_found", StrCat("no move ", core::Quote(move)), {});
  const bool checkers = move != "submit" && move != "withdraw";
  if (checkers != (c.who.role == core::Role::kChecker))
    return ErrorResponse(403, "permission_denied",
                         checkers ? StrCat("only output checkers ", move, " release requests")
                                  : StrCat("only the request's author can ", move, " it"),
                         {});
  std::string comment;
  if (!c.req.body.empty()) {
    auto body = c.Body();
    if (!body) return FromError(body.error());
    if (auto ok = OnlyKeys(*body, {"comment"}); !ok) return FromError(ok.error());
    auto v = Text(*body, "comment", false);
    if (!v) return v.error();
    comment = *v;
  }
  const std::string kind = move == "review" ? "submit_review" : move == "approve" ? "approve_request" : move;
  return Answer(c.releases->Apply(ActorOf(c), *id, {kind, "", comment}));
}

// POST /v1/releases/{id}/votes {path, vote, comment}
HttpResponse VoteRelease(Context& c) {
  if (!c.releases) return Unavailable();
  auto id = IdOf(c);
  if (!id) return id.error();
  auto body = c.Body();
  if (!body) return FromError(body.error());
  if (auto ok = OnlyKeys(*body, {"path", "vote", "comment"}); !ok) return FromError(ok.error());
  auto path = Text(*body, "path", true);
  if (!path) return path.error();
  auto vote = Text(*body, "vote", true);
  if (!vote) return vote.error();
  if (*vote != "approve" && *vote != "request_changes")
    return FieldError("vote", "expected approve or request_changes");
  auto comment = Text(*body, "comment", false);
  if (!comment) return comment.error();
  return Answer(c.releases->Apply(ActorOf(c), *id, {*vote, *path, *comment}));
}

// The permit as `c` may see it; 404 otherwise.
std::expected<core::Permit, HttpResponse> PermitOf(Context& c) {
  const std::string id = c.params["id"];
  auto p = c.store.GetPermit(id);
  if (!p) {
    if (p.error().code == core::ErrorCode::kNotFound)
      return std::unexpected(NotFound(StrCat("permit ", core::Quote(id))));
    return std::unexpected(FromError(p.error()));
  }
  if (!c.CanSee(p->project)) return std::unexpected(NotFound(StrCat("permit ", core::Quote(id))));
  return *p;
}

HttpResponse ChecksAnswer(const core::Result<json>& r) {
  if (!r) {
    if (r.error().code == core::ErrorCode::kFailedPrecondition)
      return ErrorResponse(409, "failed_precondition", r.error().message, {});
    return FromError(r.error());
  }
  return Json(200, *r);
}

// GET /v1/permits/{id}/checks: what the steward set, and what applies.
HttpResponse GetPermitChecks(Context& c) {
  if (!c.releases) return Unavailable();
  auto p = PermitOf(c);
  if (!p) return p.error();
  return ChecksAnswer(c.releases->GetChecks(ActorOf(c), p->id));
}

// PUT /v1/permits/{id}/checks {threshold, round, zeros_allowed,
// max_file_bytes, allowed_types}: the permit's steward replaces them.
HttpResponse PutPermitChecks(Context& c) {
  if (!c.releases) return Unavailable();
  auto p = PermitOf(c);
  if (!p) return p.error();
  auto body = c.Body();
  if (!body) return FromError(body.error());
  return ChecksAnswer(c.releases->SetChecks(ActorOf(c), p->id, *body));
}

}  // namespace sluss::api::internal
