#pragma once

// What a route handler sees. Handlers are plain functions of a Context.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/api.h"
#include "api/http.h"
#include "core/dataset_service.h"
#include "core/git_service.h"
#include "core/image_service.h"
#include "core/release.h"
#include "core/store.h"
#include "core/types.h"

namespace sluss::api::internal {

class GitQueue;

struct Principal {
  bool authenticated = false;
  std::string user;
  core::Role role = core::Role::kResearcher;
  std::int64_t token_id = 0;
  std::optional<core::TimePoint> expires_at;  // the token's; tokens it makes end by then
  std::vector<std::string> projects;  // memberships
};

struct Context {
  const HttpRequest& req;
  std::map<std::string, std::string> params;  // from the route pattern
  Principal who;
  core::Store& store;
  core::TimePoint now;
  const std::vector<core::Image>& images;
  const std::vector<core::Node>& nodes;
  core::GitService* git;  // may be null
  const std::function<std::vector<std::string>(core::JobId, int, const std::string&)>& log_files;
  core::ImageService* image_service;  // may be null
  core::DatasetService* datasets;     // may be null
  const std::function<core::Result<nlohmann::json>(core::RunId)>& run_provenance;
  const std::function<core::Result<nlohmann::json>(core::JobId)>& job_provenance;
  const std::function<core::Result<nlohmann::json>(core::RunId)>& run_outputs;
  const std::string& audit_public_key;  // PEM; empty: signatures not checked
  GitQueue* git_queue;                  // null when `git` is
  core::ReleaseService* releases = nullptr;  // the airlock; may be null
  int log_tail_lines = 200;   // what researchers read of a log (ApiOptions)
  int log_line_chars = 1000;
  const std::map<std::string, PoolInfo>* pools = nullptr;  // ApiOptions::pools

  // The membership rule, in one place: admins, stewards and auditors see
  // every project; researchers and output checkers their own. A project the
  // caller may not see answers 404, exactly like one that does not exist.
  bool CanSee(std::string_view project) const;
  bool IsAdmin() const { return who.role == core::Role::kAdmin; }

  // The body as a JSON object; kInvalidArgument naming the problem.
  core::Result<nlohmann::json> Body() const;
};

using Handler = HttpResponse (*)(Context&);

// The 404 for a thing the caller may not see or that does not exist.
HttpResponse NotFound(std::string_view what);

}  // namespace sluss::api::internal
