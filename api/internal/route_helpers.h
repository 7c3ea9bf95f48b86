#pragma once

// Helpers that route handlers share (api/route_helpers.cc).

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/internal/context.h"

namespace sluss::api::internal {

// 400 invalid_argument naming the field.
HttpResponse FieldError(std::string_view field, std::string_view message);
// An optional string field; a wrong type is an error naming the field.
core::Result<std::optional<std::string>> StringField(const nlohmann::json& body, const char* name);
// kInvalidArgument naming the first key of `body` not in `allowed`.
core::Result<void> OnlyKeys(const nlohmann::json& body, std::vector<std::string_view> allowed);
// A positive decimal id.
std::optional<std::int64_t> ParseId(const std::string& s);
// The run, job or project named in the path, if the caller may see it;
// otherwise the 404 to answer, the same whether it exists or not.
std::expected<core::Job, HttpResponse> VisibleJob(Context& c);
std::expected<core::Run, HttpResponse> VisibleRun(Context& c);
std::expected<core::Project, HttpResponse> VisibleProject(Context& c);
// A non-negative integer query parameter, or `fallback` when absent.
std::expected<std::int64_t, HttpResponse> QueryInt(Context& c, const char* name,
                                                   std::int64_t fallback);

}  // namespace sluss::api::internal
