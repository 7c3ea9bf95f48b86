#pragma once

// HTTP requests and responses as plain values, so that request -> response
// is a function that knows nothing of sockets (api/server.cc does the I/O).

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"

namespace sluss::api {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  // As sent, without the query: percent escapes intact (and well formed),
  // so that an encoded '/' stays inside its segment. The router decodes
  // each segment after splitting.
  std::string path;
  std::map<std::string, std::string> query;    // decoded; last value wins
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string remote;  // peer address, for logs

  std::string Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set: a stream. The server sends the body chunked (Transfer-Encoding:
  // chunked): `body` first, then what `next` returns, asked again and again
  // on a worker thread: more text; "" for nothing yet (asked again after a
  // short wait); std::nullopt at the end. It must not block.
  std::function<std::optional<std::string>()> next;
};

// Splits "/v1/runs?project=p1&limit=5" into the path (not decoded) and the
// decoded query. False when the target is malformed (bad percent escapes or
// NUL bytes anywhere, a path that does not start with '/').
bool ParseTarget(std::string_view target, std::string* path,
                 std::map<std::string, std::string>* query);
// Percent-decodes one path segment; false on a bad escape or a NUL.
bool DecodeSegment(std::string_view segment, std::string* out);

HttpResponse Json(int status, const nlohmann::json& body);
// The one error shape: {"error": {"code", "message", "details"}}.
HttpResponse ErrorResponse(int status, std::string_view code,
                           std::string_view message,
                           const nlohmann::json& details);
HttpResponse ErrorResponse(int status, std::string_view code,
                           std::string_view message);
// Maps an Error to its status; `field`, when set, goes to details.field.
HttpResponse FromError(const core::Error& error);
int HttpStatusFor(core::ErrorCode code);

}  // namespace sluss::api
