// Helpers that route handlers share: field errors, ids, visibility.

#include <charconv>

#include "api/internal/route_helpers.h"
#include "core/strings.h"

namespace sluss::api::internal {

using core::StrCat;
using nlohmann::json;

HttpResponse FieldError(std::string_view field, std::string_view message) {
  return ErrorResponse(400, "invalid_argument", StrCat(field, ": ", message),
                       {{"field", field}});
}

// An optional string field; a wrong type is an error naming the field.
core::Result<std::optional<std::string>> StringField(const json& body, const char* name) {
  if (!body.contains(name) || body.at(name).is_null()) return std::optional<std::string>();
  if (!body.at(name).is_string()) {
    return core::InvalidArgument(StrCat(name, ": expected a string"), name);
  }
  return std::optional<std::string>(body.at(name).get<std::string>());
}

core::Result<void> OnlyKeys(const json& body, std::vector<std::string_view> allowed) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      std::string hint = core::ClosestMatch(it.key(), allowed);
      return core::InvalidArgument(
          StrCat("unknown field ", core::Quote(it.key()),
                 hint.empty() ? std::string() : StrCat(" (did you mean '", hint, "'?)")),
          it.key());
    }
  }
  return {};
}

std::optional<std::int64_t> ParseId(const std::string& s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

// Loads the run or job named by the {id} parameter, if the caller may see
// it; otherwise the 404 to answer, the same whether it exists or not.
template <typename Id, typename Get>
static auto VisibleById(Context& c, std::string_view what, Get get)
    -> std::expected<typename decltype(get(Id{}))::value_type, HttpResponse> {
  auto id = ParseId(c.params.at("id"));
  if (!id) return std::unexpected(NotFound(StrCat(what, " ", core::Quote(c.params.at("id")))));
  auto found = get(Id{*id});
  if (!found) {
    if (found.error().code == core::ErrorCode::kNotFound) {
      return std::unexpected(NotFound(StrCat(what, " ", *id)));
    }
    return std::unexpected(FromError(found.error()));
  }
  if (!c.CanSee(found->project)) return std::unexpected(NotFound(StrCat(what, " ", *id)));
  return *found;
}

std::expected<core::Job, HttpResponse> VisibleJob(Context& c) {
  return VisibleById<core::JobId>(c, "job", [&](core::JobId id) { return c.store.GetJob(id); });
}

std::expected<core::Run, HttpResponse> VisibleRun(Context& c) {
  return VisibleById<core::RunId>(c, "run", [&](core::RunId id) { return c.store.GetRun(id); });
}

std::expected<core::Project, HttpResponse> VisibleProject(Context& c) {
  const std::string& name = c.params.at("p");
  if (!c.CanSee(name)) return std::unexpected(NotFound(StrCat("project ", core::Quote(name))));
  auto p = c.store.GetProject(name);
  if (!p) {
    if (p.error().code == core::ErrorCode::kNotFound) {
      return std::unexpected(NotFound(StrCat("project ", core::Quote(name))));
    }
    return std::unexpected(FromError(p.error()));
  }
  return *p;
}

// A non-negative integer query parameter, or `fallback` when absent.
std::expected<std::int64_t, HttpResponse> QueryInt(Context& c, const char* name,
                                                   std::int64_t fallback) {
  auto it = c.req.query.find(name);
  if (it == c.req.query.end() || it->second.empty()) return fallback;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc() || p != it->second.data() + it->second.size() || v < 0)
    return std::unexpected(FieldError(name, "expected a non-negative integer"));
  return v;
}

}  // namespace sluss::api::internal
