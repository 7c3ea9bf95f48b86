#pragma once

// Small file helpers shared inside sandbox/.

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"

namespace sluss::sandbox::internal {

core::Result<std::string> ReadText(const std::string& path,
                                   std::size_t limit = 16 << 20);
core::Result<nlohmann::json> ReadJson(const std::string& path);
// Temporary file, fsync, rename over `path`, fsync of the directory.
core::Result<void> WriteFileAtomic(const std::string& path, const std::string& text);

}  // namespace sluss::sandbox::internal
