#pragma once

// Reading typed fields out of JSON with errors that name the field: the one
// helper behind core's FromJson functions. Internal to core.

#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/strings.h"

namespace sluss::core::internal {

// Reads `j[key]` into `out` when present and not null; otherwise leaves
// `out` as it is. A value of the wrong type is kInvalidArgument naming
// `prefix` + `key`.
template <typename T>
Result<void> Get(const nlohmann::json& j, std::string_view key, T& out,
                 std::string_view prefix = {}) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  try {
    out = it->template get<T>();
  } catch (const nlohmann::json::exception&) {
    return InvalidArgument(StrCat("field ", prefix, key, " has the wrong type"),
                           StrCat(prefix, key));
  }
  return {};
}

// The first error of several reads, or success.
inline Result<void> All(std::initializer_list<Result<void>> reads) {
  for (const auto& r : reads)
    if (!r) return r;
  return {};
}

}  // namespace sluss::core::internal
