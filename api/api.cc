#include "api/api.h"


#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "api/internal/audit_batch.h"
#include "api/internal/context.h"
#include "api/internal/git_queue.h"
#include "api/internal/routes.h"
#include "api/internal/routes_releases.h"
#include "api/internal/web.h"
#include "core/digest.h"
#include "core/strings.h"

namespace sluss::api {

using core::Role;
using core::StrCat;
using internal::Context;
using internal::Handler;
using nlohmann::json;

namespace {


// The people's roles; kHook tokens may only call the hook route.
constexpr Role kAllRoles[] = {Role::kResearcher, Role::kSteward, Role::kAdmin,
                              Role::kChecker, Role::kAuditor};

struct Route {
  std::string method;
  std::string pattern;                 // "/v1/runs/{id}"
  std::vector<std::string> segments;   // split pattern
  bool is_public = false;
  std::vector<Role> roles;
  Handler handler = nullptr;
  bool mutates = false;
  // Served outside the request's transaction: the handler's service makes
  // its change and that change's audit record in its own short transaction,
  // after slow file work that must not hold the store (a release's copy).
  bool own_transaction = false;
};

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 1;
  while (i <= path.size()) {
    std::size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    out.emplace_back(path.substr(i, slash - i));
    i = slash + 1;
  }
  return out;
}

// Latency histogram buckets, seconds.
constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05, 0.1, 0.25, 0.5, 1, 5};

}  // namespace

struct Api::Impl {
  core::Store& store;
  const core::Clock& clock;
  ApiOptions options;
  std::vector<Route> routes;

  struct Bucket {
    double tokens;
    core::TimePoint at;
  };
  std::mutex rate_mu;
  // Per user ("hook:<project>" for a project's hooks and webhooks), not per
  // token: more tokens are not more requests.
  std::map<std::string, Bucket, std::less<>> buckets;  // GUARDED_BY(rate_mu)

  std::mutex metrics_mu;
  std::map<std::pair<std::string, int>, std::uint64_t> requests;  // GUARDED_BY(metrics_mu)
  std::array<std::uint64_t, kBuckets.size() + 1> latency_counts{};  // GUARDED_BY(metrics_mu)
  double latency_sum = 0;                                           // GUARDED_BY(metrics_mu)

  internal::AuditBatch audit_batch;
  // Writes what the batch hands back; false when the store refused one.
  bool AppendAll(const std::vector<core::AuditEvent>& events) { return AppendAll(store, events); }
  bool AppendAll(core::Store& db, const std::vector<core::AuditEvent>& events) {
    bool ok = true;
    for (const auto& e : events) ok = db.AppendAudit(e, clock.Now()).has_value() && ok;
    return ok;
  }

  // Last, so that it is destroyed first: its threads use the store and git.
  std::unique_ptr<internal::GitQueue> git_queue;

  Impl(core::Store& s, const core::Clock& c, ApiOptions o)
      : store(s), clock(c), options(std::move(o)) {
    if (options.git) {
      git_queue = std::make_unique<internal::GitQueue>(
          options.git_threads, options.git_max_queued, /*max_per_project=*/8, /*keep=*/1000);
    }
    auto add = [&](std::string method, std::string pattern, std::vector<Role> roles,
                   Handler h) {
      Route r;
      r.mutates = method != "GET";
      r.method = std::move(method);
      r.segments = Split(pattern);
      r.pattern = std::move(pattern);
      r.roles = std::move(roles);
      r.handler = h;
      routes.push_back(std::move(r));
    };
    std::vector<Role> all(std::begin(kAllRoles), std::end(kAllRoles));
    std::vector<Role> admin = {Role::kAdmin};
    std::vector<Role> actors = {Role::kResearcher, Role::kAdmin};
    namespace h = internal;
    add("POST", "/v1/hooks/git/{p}", {Role::kHook, Role::kAdmin}, h::GitHook);
    add("GET", "/v1/git/requests/{id}", all, h::GetGitRequest);
    add("GET", "/v1/whoami", all, h::Whoami);
    add("GET", "/v1/projects", all, h::ListProjects);
    add("POST", "/v1/projects", admin, h::CreateProject);
    add("GET", "/v1/projects/{p}", all, h::GetProject);
    add("PATCH", "/v1/projects/{p}", admin, h::PatchProject);
    add("GET", "/v1/projects/{p}/quota", all, h::GetQuota);
    add("PUT", "/v1/projects/{p}/quota", admin, h::PutQuota);
    add("POST", "/v1/projects/{p}/webhook", admin, h::CreateWebhook);
    add("GET", "/v1/projects/{p}/usage", all, h::GetUsage);
    add("POST", "/v1/projects/{p}/pause", admin, h::PauseProject);
    add("POST", "/v1/projects/{p}/resume", admin, h::ResumeProject);
    add("GET", "/v1/projects/{p}/members", all, h::ListMembers);
    add("PUT", "/v1/projects/{p}/members/{user}", admin, h::AddMember);
    add("DELETE", "/v1/projects/{p}/members/{user}", admin, h::RemoveMember);
    add("GET", "/v1/runs", all, h::ListRuns);
    add("POST", "/v1/runs", actors, h::StartRun);
    add("GET", "/v1/runs/{id}", all, h::GetRun);
    add("POST", "/v1/runs/{id}/cancel", actors, h::CancelRun);
    add("GET", "/v1/jobs", all, h::ListJobs);
    add("GET", "/v1/jobs/{id}", all, h::GetJob);
    add("GET", "/v1/jobs/{id}/events", all, h::ListJobEvents);
    add("GET", "/v1/jobs/{id}/logs", all, h::JobLogs);
    add("POST", "/v1/jobs/{id}/cancel", actors, h::CancelJob);
    add("POST", "/v1/jobs/{id}/retry", actors, h::RetryJob);
    add("POST", "/v1/jobs/{id}/hold", actors, h::HoldJob);
    add("POST", "/v1/jobs/{id}/release", actors, h::ReleaseJob);
    add("GET", "/v1/tokens", all, h::ListTokens);
    add("POST", "/v1/tokens", all, h::CreateToken);
    add("DELETE", "/v1/tokens/{id}", all, h::RevokeToken);
    add("GET", "/v1/images", all, h::ListImages);
    add("POST", "/v1/images", admin, h::RegisterImage);
    add("GET", "/v1/images/{name}", all, h::ShowImage);
    add("GET", "/v1/nodes", admin, h::ListNodes);
    add("POST", "/v1/nodes/{name}/drain", admin, h::DrainNode);
    add("POST", "/v1/nodes/{name}/resume", admin, h::ResumeNode);
    add("GET", "/v1/queue", all, h::GetQueue);
    add("POST", "/v1/queue/pause", admin, h::PauseQueue);
    add("POST", "/v1/queue/resume", admin, h::ResumeQueue);
    std::vector<Role> stewards = {Role::kSteward};
    std::vector<Role> data_admins = {Role::kSteward, Role::kAdmin};
    std::vector<Role> auditors = {Role::kAuditor, Role::kAdmin};
    add("GET", "/v1/datasets", all, h::ListDatasets);
    add("POST", "/v1/datasets", data_admins, h::RegisterDataset);
    add("GET", "/v1/datasets/{name}/{version}", all, h::GetDataset);
    add("POST", "/v1/datasets/{name}/{version}/verify", data_admins, h::VerifyDataset);
    add("GET", "/v1/permits", all, h::ListPermits);
    add("POST", "/v1/permits", stewards, h::GrantPermit);
    add("GET", "/v1/permits/{id}", all, h::GetPermit);
    add("POST", "/v1/permits/{id}/revoke", stewards, h::RevokePermit);
    add("GET", "/v1/permits/{id}/checks", all, h::GetPermitChecks);
    add("PUT", "/v1/permits/{id}/checks", stewards, h::PutPermitChecks);
    add("GET", "/v1/runs/{id}/provenance", all, h::RunProvenance);
    add("GET", "/v1/runs/{id}/outputs", all, h::RunOutputs);
    add("GET", "/v1/jobs/{id}/provenance", all, h::JobProvenance);
    add("GET", "/v1/audit", auditors, h::ListAudit);
    add("GET", "/v1/audit/checkpoints", auditors, h::ListAuditCheckpoints);
    add("GET", "/v1/audit/proof", auditors, h::AuditProof);
    add("GET", "/v1/audit/verify", auditors, h::VerifyAudit);
    // The airlock (api/routes_releases.cc).
    std::vector<Role> researchers = {Role::kResearcher};
    std::vector<Role> checkers = {Role::kChecker};
    add("GET", "/v1/releases", all, h::ListReleases);
    add("POST", "/v1/releases", researchers, h::CreateRelease);
    add("GET", "/v1/releases/{id}", all, h::GetRelease);
    add("POST", "/v1/releases/{id}/files", researchers, h::AddReleaseFile);
    routes.back().own_transaction = true;
    add("GET", "/v1/releases/{id}/files/{path}", all, h::DownloadReleaseFile);
    add("DELETE", "/v1/releases/{id}/files/{path}", researchers, h::RemoveReleaseFile);
    add("POST", "/v1/releases/{id}/votes", checkers, h::VoteRelease);
    add("POST", "/v1/releases/{id}/{move}", {Role::kResearcher, Role::kChecker}, h::MoveRelease);
    // Served by Handle itself, listed for the route table and OpenAPI.
    Route pub;
    pub.is_public = true;
    for (auto [m, p] : {std::pair{"GET", "/healthz"}, std::pair{"GET", "/v1/openapi.json"}}) {
      pub.method = m;
      pub.pattern = p;
      pub.segments = Split(p);
      routes.push_back(pub);
    }
    Route metrics;
    metrics.method = "GET";
    metrics.pattern = "/metrics";
    metrics.segments = Split("/metrics");
    metrics.roles = {Role::kAdmin, Role::kAuditor};
    routes.push_back(metrics);
  }

  // The route for method + path; sets *params. *path_known is true when some
  // route has this path with another method (405 rather than 404). `path` is
  // as sent: it is split on '/' first and each segment decoded after, so
  // "a%2Fquota" is one segment (a project id "a/quota"), never two.
  const Route* Match(const std::string& method, const std::string& path,
                     std::map<std::string, std::string>* params, bool* path_known) const {
    std::vector<std::string> parts = Split(path);
    *path_known = false;
    for (std::string& part : parts) {
      std::string decoded;
      if (!DecodeSegment(part, &decoded)) return nullptr;  // ParseTarget checked it
      part = std::move(decoded);
    }
    for (const Route& r : routes) {
      if (r.segments.size() != parts.size()) continue;
      std::map<std::string, std::string> p;
      bool ok = true;
      for (std::size_t i = 0; i < parts.size() && ok; ++i) {
        const std::string& seg = r.segments[i];
        if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
          if (parts[i].empty()) ok = false;
          else p[seg.substr(1, seg.size() - 2)] = parts[i];
        } else if (seg != parts[i]) {
          ok = false;
        }
      }
      if (!ok) continue;
      if (r.method != method) {
        *path_known = true;
        continue;
      }
      *params = std::move(p);
      return &r;
    }
    return nullptr;
  }

  std::expected<internal::Principal, HttpResponse> Authenticate(const HttpRequest& req,
                                                                core::TimePoint now) {
    std::string auth = req.Header("authorization");
    auto unauthenticated = [](std::string_view why) {
      HttpResponse r = ErrorResponse(401, "unauthenticated", why);
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sluss\"");
      return r;
    };
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.size() <= kBearer.size() || !std::equal(kBearer.begin(), kBearer.end(), auth.begin(),
                                                      [](char a, char b) {
                                                        return std::tolower(a) == std::tolower(b);
                                                      })) {
      return std::unexpected(unauthenticated(
          "send 'Authorization: Bearer <token>'; an admin makes tokens with "
          "'sluss token create' or 'slussd token create'"));
    }
    std::string secret = auth.substr(kBearer.size());
    auto token = store.FindToken(core::Sha256Hex(secret));
    if (!token) {
      if (token.error().code == core::ErrorCode::kNotFound) {
        return std::unexpected(unauthenticated("the token is not valid"));
      }
      return std::unexpected(FromError(token.error()));
    }
    if (token->revoked_at) return std::unexpected(unauthenticated("the token was revoked"));
    if (!token->ValidAt(now)) return std::unexpected(unauthenticated("the token has expired"));
    internal::Principal who;
    who.authenticated = true;
    who.user = token->user;
    who.role = token->role;
    who.token_id = token->id;
    who.expires_at = token->expires_at;
    // Only the roles bound to their projects need the membership list.
    if (who.role == Role::kResearcher || who.role == Role::kChecker) {
      auto projects = store.ProjectsOf(token->user);
      if (!projects) return std::unexpected(FromError(projects.error()));
      who.projects = std::move(*projects);
    }
    return who;
  }

  // The project's webhook secret (setting "webhook/<p>") against GitHub's
  // and Gitea's X-Hub-Signature-256 (HMAC-SHA-256 of the body) or GitLab's
  // X-Gitlab-Token. Every failure is the same 401, and an audit record.
  std::expected<internal::Principal, HttpResponse> AuthenticateWebhook(const HttpRequest& req,
                                                                       const std::string& project) {
    auto unauthenticated = [] {
      HttpResponse r = ErrorResponse(401, "unauthenticated",
                                     "the webhook's signature or token does not match the "
                                     "project's webhook secret ('sluss project webhook PROJECT' "
                                     "makes one), and no bearer token was sent");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sluss\"");
      return r;
    };
    const std::string signature = req.Header("x-hub-signature-256");
    const std::string gitlab = req.Header("x-gitlab-token");
    if (signature.empty() && gitlab.empty()) return std::unexpected(unauthenticated());
    auto setting = store.GetSetting(StrCat("webhook/", project));
    if (!setting) return std::unexpected(unauthenticated());
    json j = json::parse(*setting, nullptr, false);
    const std::string secret = j.is_object() ? j.value("secret", "") : "";
    if (secret.empty()) return std::unexpected(unauthenticated());
    const bool ok = !signature.empty()
                        ? core::ConstantTimeEquals(
                              signature, StrCat("sha256=", core::HmacSha256Hex(secret, req.body)))
                        : core::ConstantTimeEquals(gitlab, secret);
    if (!ok) return std::unexpected(unauthenticated());
    internal::Principal who;
    who.authenticated = true;
    who.user = StrCat("hook:", project);
    who.role = Role::kHook;
    who.token_id = -1;  // a webhook's rate bucket is its project's (who.user)
    return who;
  }

  // Token bucket per user. False when the caller must slow down.
  bool Admit(const std::string& user, core::TimePoint now) {
    std::lock_guard lock(rate_mu);
    auto [it, inserted] = buckets.try_emplace(user, Bucket{options.rate_burst, now});
    Bucket& b = it->second;
    double elapsed = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min(options.rate_burst, b.tokens + std::max(0.0, elapsed) * options.rate_per_second);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  void Record(const std::string& route, int status, double seconds) {
    std::lock_guard lock(metrics_mu);
    ++requests[{route, status}];
    std::size_t i = 0;
    while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
    ++latency_counts[i];
    latency_sum += seconds;
  }

  HttpResponse Metrics() {
    std::string out;
    out += "# HELP sluss_http_requests_total API requests by route and status.\n";
    out += "# TYPE sluss_http_requests_total counter\n";
    {
      std::lock_guard lock(metrics_mu);
      for (const auto& [key, n] : requests) {
        out += StrCat("sluss_http_requests_total{route=\"", key.first, "\",status=\"",
                      key.second, "\"} ", n, "\n");
      }
      out += "# HELP sluss_http_request_duration_seconds API latency.\n";
      out += "# TYPE sluss_http_request_duration_seconds histogram\n";
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        cumulative += latency_counts[i];
        char le[32];
        std::snprintf(le, sizeof le, "%g", kBuckets[i]);
        out += StrCat("sluss_http_request_duration_seconds_bucket{le=\"", le, "\"} ", cumulative, "\n");
      }
      cumulative += latency_counts[kBuckets.size()];
      out += StrCat("sluss_http_request_duration_seconds_bucket{le=\"+Inf\"} ", cumulative, "\n");
      char sum[64];
      std::snprintf(sum, sizeof sum, "%.6f", latency_sum);
      out += StrCat("sluss_http_request_duration_seconds_sum ", sum, "\n");
      out += StrCat("sluss_http_request_duration_seconds_count ", cumulative, "\n");
    }
    auto counts = store.CountJobs("");
    if (!counts) return FromError(counts.error());
    out += "# HELP sluss_jobs Jobs by project and state.\n";
    out += "# TYPE sluss_jobs gauge\n";
    for (const auto& c : *counts) {
      out += StrCat("sluss_jobs{project=\"", c.project, "\",state=\"", core::Name(c.state),
                    "\"} ", c.count, "\n");
    }
    // Seconds since each mirrored project's last successful fetch (hosted
    // projects are pushed to and have none).
    if (auto projects = store.ListProjects()) {
      std::string lines;
      const core::TimePoint now = clock.Now();
      for (const auto& p : *projects) {
        if (p.repo_url.empty()) continue;
        auto v = store.GetSetting(StrCat("sync/", p.name));
        json s = v ? json::parse(*v, nullptr, false) : json();
        auto at = s.is_object() && s["last_ok_at"].is_string()
                      ? core::ParseRfc3339(s["last_ok_at"].get<std::string>())
                      : std::nullopt;
        // Never fetched: the age since the project was created.
        const core::TimePoint since = at ? *at : p.created_at;
        char age[32];
        std::snprintf(age, sizeof age, "%.3f",
                      std::chrono::duration<double>(now - since).count());
        lines += StrCat("sluss_git_sync_age_seconds{project=\"", p.name, "\"} ", age, "\n");
      }
      if (!lines.empty()) {
        out += "# HELP sluss_git_sync_age_seconds Seconds since the project's repository was last fetched successfully.\n";
        out += "# TYPE sluss_git_sync_age_seconds gauge\n";
        out += lines;
      }
    }
    if (options.extra_metrics) out += options.extra_metrics();
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = std::move(out);
    return r;
  }

  // `db`: the store the handler works on (the change store for changes).
  HttpResponse Dispatch(const HttpRequest& req, core::Store& db, std::string* route_name,
                        std::string* actor) {
    std::map<std::string, std::string> params;
    bool path_known = false;
    // The web page: public (it holds no data; what it shows comes from
    // the /v1 routes with the reader's token).
    if (req.method == "GET") {
      if (auto asset = internal::FindWebAsset(req.path)) {
        *route_name = "web";
        return internal::WebResponse(*asset);
      }
    }
    const Route* route = Match(req.method, req.path, &params, &path_known);
    if (!route) {
      *route_name = "unmatched";
      if (path_known) return ErrorResponse(405, "method_not_allowed", StrCat(req.method, " is not allowed on ", req.path));
      return ErrorResponse(404, "not_found", StrCat("no route ", req.method, " ", req.path));
    }
    *route_name = route->pattern;
    if (route->pattern == "/healthz") {
      return Json(200, {{"status", "ok"}, {"version", options.version}});
    }
    if (route->pattern == "/v1/openapi.json") {
      HttpResponse r;
      r.body = std::string(OpenApiDocument());
      return r;
    }
    core::TimePoint now = clock.Now();
    // A forge's webhook (GitHub, Gitea, GitLab) carries no bearer token but
    // a signature over the body, or the project's secret.
    auto who = route->pattern == "/v1/hooks/git/{p}" && req.Header("authorization").empty()
                   ? AuthenticateWebhook(req, params.at("p"))
                   : Authenticate(req, now);
    if (!who) return who.error();
    *actor = who->user;
    if (!Admit(who->user, now)) {
      HttpResponse r = ErrorResponse(429, "resource_exhausted",
                                     "too many requests from this user; slow down and retry");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    if (std::find(route->roles.begin(), route->roles.end(), who->role) == route->roles.end()) {
      std::vector<std::string> names;
      for (Role r : route->roles) names.emplace_back(core::Name(r));
      return ErrorResponse(403, "permission_denied",
                           StrCat("role ", core::Name(who->role), " may not ", req.method, " ",
                                  route->pattern, "; it needs ", core::Join(names, " or ")),
                           {{"role", core::Name(who->role)}});
    }
    if (route->pattern == "/metrics") return Metrics();
    Context ctx{req,
                std::move(params),
                std::move(*who),
                db,
                now,
                options.images,
                options.nodes,
                options.git,
                options.log_files,
                options.image_service,
                options.datasets,
                options.run_provenance,
                options.job_provenance,
                options.run_outputs,
                options.audit_public_key,
                git_queue.get(),
                options.releases,
                options.log_tail_lines,
                options.log_line_chars};
    ctx.pools = &options.pools;
    return route->handler(ctx);
  }
};

Api::Api(core::Store& store, const core::Clock& clock, ApiOptions options)
    : impl_(std::make_unique<Impl>(store, clock, std::move(options))) {}

Api::~Api() { Shutdown(); }

HttpResponse Api::Handle(const HttpRequest& req) {
  auto start = std::chrono::steady_clock::now();
  std::string route = "unmatched";
  std::string actor = "-";
  HttpResponse resp;
  // The audit log: every request that changes (or tries to change)
  // something, every refused role, and every read of what jobs wrote (logs,
  // provenance). Aggregated per client and minute (AuditBatch): requests
  // with no valid credential, requests over the rate limit, and reads of
  // the audit log itself (so that reading it until it is empty ends).
  static constexpr std::string_view kAuditedReads[] = {
      "/v1/jobs/{id}/logs", "/v1/runs/{id}/provenance", "/v1/jobs/{id}/provenance",
      "/v1/audit", "/v1/audit/proof", "/v1/audit/verify"};
  impl_->AppendAll(impl_->audit_batch.TakeEnded(impl_->clock.Now()));
  // Serves the request and writes its audit record; an error when the
  // record of a request that succeeded could not be written.
  const bool mutating = req.method != "GET";
  const bool own_transaction = [&] {
    std::map<std::string, std::string> params;
    bool known = false;
    const Route* r = impl_->Match(req.method, req.path, &params, &known);
    return r && r->own_transaction;
  }();
  core::Store& db =
      mutating && impl_->options.change_store ? *impl_->options.change_store : impl_->store;
  auto serve = [&]() -> core::Result<void> {
    try {
      resp = impl_->Dispatch(req, db, &route, &actor);
    } catch (const std::exception&) {
      // A bug, not the caller's fault; the message could leak internals.
      resp = ErrorResponse(500, "internal",
                           "internal error; the operators have the details in the log");
    }
    const core::TimePoint now = impl_->clock.Now();
    const bool denied = resp.status == 401 || resp.status == 403;
    const bool read = req.method == "GET" &&
                      std::find(std::begin(kAuditedReads), std::end(kAuditedReads), route) !=
                          std::end(kAuditedReads);
    const bool batched =
        resp.status == 401 || resp.status == 429 || (read && route.starts_with("/v1/audit"));
    if (!(denied || read || batched || (req.method != "GET" && route != "unmatched"))) return {};
    json payload = {{"method", req.method}, {"route", route}, {"status", resp.status}};
    if (!req.remote.empty()) payload["remote"] = req.remote;
    core::AuditEvent event{actor,
                           denied ? "api.denied"
                           : read ? "api.read"
                                  : "api.request",
                           req.path, payload};
    const bool logged =
        batched ? impl_->AppendAll(db, impl_->audit_batch.Count(event, req.remote, route, now))
                : db.AppendAudit(event, now).has_value();
    // A route with its own transaction made its change together with that
    // change's own audit record; this one only adds the request's.
    if (!logged && resp.status < 400 && !own_transaction) {
      return core::Fail(core::ErrorCode::kUnavailable, "the audit log cannot be written");
    }
    return {};
  };
  // A change and its audit record are one transaction: a change whose
  // record cannot be written is not made. Nothing is served that is not in
  // the log. A route with its own transaction (a release's file) keeps that
  // rule inside its service, so that slow file work holds no lock.
  const core::Result<void> served = mutating && !own_transaction ? db.Atomically(serve) : serve();
  if (!served && resp.status < 400) {
    resp = ErrorResponse(503, "unavailable",
                         mutating ? "the audit log cannot be written, so nothing was changed; "
                                    "try again"
                                  : "the audit log cannot be written; try again");
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  impl_->Record(route, resp.status, seconds);
  if (impl_->options.on_change && req.method != "GET" && resp.status < 400)
    impl_->options.on_change();
  if (impl_->options.on_request) {
    impl_->options.on_request(
        RequestLog{actor, req.method, route, req.path, resp.status, seconds * 1000, req.remote});
  }
  return resp;
}

std::expected<GitAccess, HttpResponse> Api::AuthorizeGit(const HttpRequest& req) {
  Impl& impl = *impl_;
  const core::TimePoint now = impl.clock.Now();
  impl.AppendAll(impl.audit_batch.TakeEnded(now));
  const auto path = ParseGitPath(req.method, req.path, req.query);
  const std::string project = path ? path->project : std::string();
  auto payload = [&](int status, std::string_view why) {
    json p = {{"method", req.method}, {"status", status}, {"reason", why}};
    if (path) p["service"] = path->service;
    if (!req.remote.empty()) p["remote"] = req.remote;
    return p;
  };
  // Each refusal is one audit record (git.denied); a request with no
  // credential at all, which git sends first of every push and fetch, is
  // counted per client and minute as the API's are.
  auto refuse = [&](std::string actor, HttpResponse r, std::string_view why, bool batched) {
    core::AuditEvent e{std::move(actor), "git.denied", req.path, payload(r.status, why)};
    if (batched) {
      impl.AppendAll(impl.audit_batch.Count(e, req.remote, "/git/", now));
    } else {
      (void)impl.store.AppendAudit(e, now);
    }
    if (impl.options.on_request) {
      impl.options.on_request(RequestLog{e.actor, req.method, "/git/", req.path, r.status, 0, req.remote});
    }
    return std::unexpected(std::move(r));
  };
  auto unauthenticated = [&](std::string_view why) {
    HttpResponse r;
    r.status = 401;
    r.content_type = "text/plain; charset=utf-8";
    r.body = StrCat(why, "\n");
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"sluss\"");
    return r;
  };
  // One answer for a repository that does not exist and one the person
  // may not see, whatever the reason.
  auto not_found = [&] {
    HttpResponse r;
    r.status = 404;
    r.content_type = "text/plain; charset=utf-8";
    r.body = StrCat("repository ", core::Quote(req.path), " not found\n");
    return r;
  };
  const std::string secret = GitCredential(req.Header("authorization"));
  if (secret.empty()) {
    return refuse("-",
                  unauthenticated("sluss: send your sluss token as the password (any user "
                                  "name), or run 'sluss auth setup-git' once"),
                  "no credential", true);
  }
  auto token = impl.store.FindToken(core::Sha256Hex(secret));
  if (!token) {
    if (token.error().code != core::ErrorCode::kNotFound) return std::unexpected(FromError(token.error()));
    return refuse("-", unauthenticated("sluss: the token is not valid"), "token not valid", false);
  }
  if (token->revoked_at)
    return refuse(token->user, unauthenticated("sluss: the token was revoked"), "token revoked", false);
  if (!token->ValidAt(now))
    return refuse(token->user, unauthenticated("sluss: the token has expired"), "token expired", false);
  if (!impl.Admit(token->user, now)) {
    HttpResponse r;
    r.status = 429;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "sluss: too many requests from this user; slow down and retry\n";
    r.headers.emplace_back("Retry-After", "1");
    return refuse(token->user, std::move(r), "rate limited", true);
  }
  if (!path || token->role == Role::kHook) return refuse(token->user, not_found(), "not a repository", false);
  auto projects = impl.store.ProjectsOf(token->user);
  if (!projects) return std::unexpected(FromError(projects.error()));
  if (std::find(projects->begin(), projects->end(), project) == projects->end()) {
    return refuse(token->user, not_found(), "not a member", false);
  }
  if (path->push && token->role != Role::kResearcher) {
    HttpResponse r;
    r.status = 403;
    r.content_type = "text/plain; charset=utf-8";
    r.body = StrCat("sluss: role ", core::Name(token->role), " may not push to project ", project,
                    "; pushing needs the researcher role\n");
    return refuse(token->user, std::move(r), "role may not push", false);
  }
  // The push itself: what it made (a run, or why none) is audited by the
  // intake; this record says who sent it, from where.
  if (path->push && req.method == "POST") {
    json p = {{"project", project}};
    if (!req.remote.empty()) p["remote"] = req.remote;
    if (auto r = impl.store.AppendAudit({token->user, "git.push", StrCat("project/", project), p}, now);
        !r) {
      return std::unexpected(
          ErrorResponse(503, "unavailable", "the audit log cannot be written; try again"));
    }
  }
  return GitAccess{*path, token->user};
}

bool Api::AuditGitRefused(const HttpRequest& head, const GitAccess& access, int status,
                          std::string_view why) {
  json p = {{"method", head.method}, {"status", status}, {"reason", why},
            {"service", access.path.service}};
  if (!head.remote.empty()) p["remote"] = head.remote;
  return impl_->store
      .AppendAudit({access.person, "git.denied", head.path, std::move(p)}, impl_->clock.Now())
      .has_value();
}

void Api::Shutdown() {
  if (impl_->git_queue) impl_->git_queue->Shutdown();
  impl_->AppendAll(impl_->audit_batch.TakeEnded(std::nullopt));  // the counts so far
}

std::vector<std::string> Api::RouteNames() const {
  std::vector<std::string> out;
  for (const auto& r : impl_->routes) out.push_back(StrCat(r.method, " ", r.pattern));
  return out;
}

std::vector<Api::RouteAccess> Api::Routes() const {
  std::vector<RouteAccess> out;
  for (const auto& r : impl_->routes) {
    out.push_back({StrCat(r.method, " ", r.pattern), r.is_public, r.roles});
  }
  return out;
}

}  // namespace sluss::api
