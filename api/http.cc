#include "api/http.h"

#include <nlohmann/json.hpp>

namespace sluss::api {

std::string HttpRequest::Header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

namespace {
int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Decode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = Hex(in[i + 1]), lo = Hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      char d = static_cast<char>(hi * 16 + lo);
      if (d == '\0') return false;
      out->push_back(d);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else if (c == '\0') {
      return false;
    } else {
      out->push_back(c);
    }
  }
  return true;
}
}  // namespace

bool DecodeSegment(std::string_view segment, std::string* out) {
  return Decode(segment, false, out);
}

bool ParseTarget(std::string_view target, std::string* path,
                 std::map<std::string, std::string>* query) {
  auto q = target.find('?');
  // The path stays as sent: decoding it whole would turn "a%2Fquota" into
  // two segments. It is checked here so that the router's per-segment
  // decoding cannot fail.
  std::string decoded;
  if (!Decode(target.substr(0, q), false, &decoded)) return false;
  path->assign(target.substr(0, q));
  if (path->empty() || path->front() != '/') return false;
  query->clear();
  if (q == std::string_view::npos) return true;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key, value;
    if (!Decode(pair.substr(0, eq), true, &key)) return false;
    if (eq != std::string_view::npos && !Decode(pair.substr(eq + 1), true, &value)) {
      return false;
    }
    (*query)[key] = value;
  }
  return true;
}

HttpResponse Json(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.body += "\n";
  return r;
}

HttpResponse ErrorResponse(int status, std::string_view code,
                           std::string_view message, const nlohmann::json& details) {
  return Json(status, {{"error",
                        {{"code", code},
                         {"message", message},
                         {"details", details.is_null() ? nlohmann::json::object() : details}}}});
}

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message) {
  return ErrorResponse(status, code, message, nlohmann::json::object());
}

int HttpStatusFor(core::ErrorCode code) {
  switch (code) {
    case core::ErrorCode::kInvalidArgument: return 400;
    case core::ErrorCode::kUnauthenticated: return 401;
    case core::ErrorCode::kPermissionDenied: return 403;
    case core::ErrorCode::kNotFound: return 404;
    case core::ErrorCode::kAlreadyExists:
    case core::ErrorCode::kFailedPrecondition:
    case core::ErrorCode::kConflict: return 409;
    case core::ErrorCode::kResourceExhausted: return 429;
    case core::ErrorCode::kUnavailable: return 503;
    case core::ErrorCode::kInternal: return 500;
  }
  return 500;
}

HttpResponse FromError(const core::Error& e) {
  nlohmann::json details = nlohmann::json::object();
  if (!e.field.empty()) details["field"] = e.field;
  // Internal errors may carry paths or SQL: never shown to the caller.
  std::string message = e.code == core::ErrorCode::kInternal
                            ? "internal error; the operators have the details in the log"
                            : e.message;
  return ErrorResponse(HttpStatusFor(e.code), core::ErrorCodeName(e.code), message, details);
}

}  // namespace sluss::api
