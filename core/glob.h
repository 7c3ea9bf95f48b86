#pragma once

// Glob matching for repository paths and outputs, as sluss.yaml uses it:
// `*` and `?` match within one path part, `[abc]`/`[a-z]`/`[!a]` one
// character, and `**` as a whole part matches zero or more parts.
// Pure: no file system access.

#include <string_view>

namespace sluss::core {

bool GlobMatch(std::string_view pattern, std::string_view path);

}  // namespace sluss::core
