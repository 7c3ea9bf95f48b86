#pragma once

// The JSON API as a function: HttpRequest in, HttpResponse out. Routing,
// authentication, the role and membership check, rate limiting, errors and
// metrics all happen here, in one place; api/server.h puts it on a socket.
//
// Thread safety: Handle may be called from many threads at once. It blocks
// (it calls the Store): call it from a worker pool, not from an I/O thread.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/git_http.h"
#include "api/http.h"
#include "core/dataset_service.h"
#include "core/git_service.h"
#include "core/image_service.h"
#include "core/release.h"
#include "core/store.h"
#include "core/time.h"
#include "core/types.h"

namespace sluss::api {

struct RequestLog {
  std::string actor;   // user name, or "-" when unauthenticated
  std::string method;
  std::string route;   // the pattern: "/v1/runs/{id}"
  std::string path;
  int status = 0;
  double latency_ms = 0;
  std::string remote;
};

// A node pool beyond its core::Node: its executor ("local", "slurm") and
// the projects it takes (empty: all).
struct PoolInfo {
  std::string executor = "local";
  std::vector<std::string> projects;
};

struct ApiOptions {
  std::string version = "0.1.0";
  // Per user (all their tokens together; a project's hook and webhooks are
  // the user "hook:<project>"): a bucket of `rate_burst` requests refilled
  // at `rate_per_second`.
  double rate_per_second = 100;
  double rate_burst = 400;
  // Approved images (listed to everyone, registered by admins); null: the
  // images below, read-only.
  core::ImageService* image_service = nullptr;
  std::vector<core::Image> images;
  std::vector<core::Node> nodes;
  // Each node pool's executor and projects, by node name, for /v1/nodes;
  // a node not here is local and takes every project.
  std::map<std::string, PoolInfo> pools;
  // Hosted repositories and push syncs; null: those routes answer 503.
  // Must outlive the Api.
  core::GitService* git = nullptr;
  // Git work that needs a fetch (a mirrored project's sync or API run) runs
  // on this many threads of its own, never on the server's workers; at most
  // git_max_queued requests wait, 8 of one project (more: 503 with
  // Retry-After). A project's
  // requests run one at a time, so one remote holds at most one thread.
  std::size_t git_threads = 4;
  std::size_t git_max_queued = 64;
  // Called after every request (slussd logs it).
  std::function<void(const RequestLog&)> on_request;
  // More Prometheus text for /metrics (the scheduler's figures).
  std::function<std::string()> extra_metrics;
  // Called after every request that changed something (slussd wakes the
  // scheduler).
  std::function<void()> on_change;
  // The files that hold a job attempt's stdout or stderr, oldest first
  // (the executor knows where); null: the logs route answers 503.
  std::function<std::vector<std::string>(core::JobId, int, const std::string&)> log_files;
  // Dataset registration; null: those routes answer 503. Must outlive the Api.
  core::DatasetService* datasets = nullptr;
  // A run's RO-Crate and a job's provenance record (slussd builds them);
  // null: those routes answer 503.
  std::function<core::Result<nlohmann::json>(core::RunId)> run_provenance;
  std::function<core::Result<nlohmann::json>(core::JobId)> job_provenance;
  // The store that requests which change something use (with their audit
  // record, in one Store::Atomically), when it is not the one given to the
  // Api (which then serves reads only): it must be the connection that the
  // services above write through, so that what they write on the request's
  // thread is in the request's transaction. Must outlive the Api.
  core::Store* change_store = nullptr;
  // A run's outputs as metadata with the disclosure checks' verdicts
  // (slussd builds them); null: that route answers 503.
  std::function<core::Result<nlohmann::json>(core::RunId)> run_outputs;
  // The public key (PEM) that signs audit checkpoints; empty: verification
  // through the API checks the roots only.
  std::string audit_public_key;
  // The airlock (release requests); null: those routes answer 503. It must
  // write through `change_store` (when set). Must outlive the Api.
  core::ReleaseService* releases = nullptr;
  // Logs as a controlled channel: everyone but stewards and admins reads
  // only the last `log_tail_lines` lines of a job's stdout or stderr, each
  // cut at `log_line_chars` bytes, with a note of what was withheld
  // (slussd.yaml `logs:`).
  int log_tail_lines = 200;
  int log_line_chars = 1000;
};

class Api {
 public:
  // `store` and `clock` must outlive the Api.
  Api(core::Store& store, const core::Clock& clock, ApiOptions options = {});
  ~Api();  // Shutdown
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  HttpResponse Handle(const HttpRequest& request);

  // A request under /git/ (api/git_http.h), from its header alone, before a
  // byte of its body is read: the project, service and person when the
  // credential may do it; else the refusal to send. No credential, or one
  // that is not valid (unknown, revoked, expired): 401 with
  // `WWW-Authenticate: Basic realm="sluss"`, so that git asks its
  // credential helper. Not a member of the project (or no such project, or
  // not a smart-HTTP path): the same 404. A push without the researcher
  // role: 403. Writes the audit records (git.push for each push let
  // through, git.denied for each refusal). Blocks (the store).
  std::expected<GitAccess, HttpResponse> AuthorizeGit(const HttpRequest& head);
  // A git request refused after AuthorizeGit let it through (busy, a body
  // over its limit, an encoding git may not get): one git.denied record
  // for `access.person`, beside the git.push record of its authorization.
  // False when the record could not be written.
  bool AuditGitRefused(const HttpRequest& head, const GitAccess& access, int status,
                       std::string_view why);

  // Drops the git requests that wait and waits for the running ones (a
  // fetch ends at git.fetch_timeout at the latest); afterwards requests
  // that need git work answer 503. HttpServer::Stop calls it once no
  // request is in flight, so that the git work ends before what it uses
  // (the GitService, the store) can go. Also writes the audit counts of
  // the minute so far (see api/internal/audit_batch.h). Idempotent; the
  // destructor calls it.
  void Shutdown();

  // Every route as "METHOD PATTERN", e.g. "GET /v1/runs/{id}".
  std::vector<std::string> RouteNames() const;
  // The roles a route admits ("public" routes admit everyone).
  struct RouteAccess {
    std::string name;
    bool is_public = false;
    std::vector<core::Role> roles;
  };
  std::vector<RouteAccess> Routes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The OpenAPI document served at /v1/openapi.json (api/openapi.json,
// compiled in).
std::string_view OpenApiDocument();

}  // namespace sluss::api
