#pragma once

// Small file helpers shared inside sandbox/.

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"

namespace sluss::sandbox::internal {

core::Result<std::string> ReadText(const std::string& path,
                                   std::size_t limit = 16 << 20);
core::Result<nlohmann::json> ReadJson(const std::string& path);
// Temporary file, fsync, rename over `path`, fsync of the directory: whole
// or absent for readers, and on disk when it returns (result.json, spec.json).
core::Result<void> WriteFileAtomic(const std::string& path, const std::string& text);
// Temporary file, rename over `path`: whole or absent for readers, without
// waiting for the disk, for what a host crash makes moot anyway (the bundle's
// config.json, the supervisor's pid). Each fsync costs a job's start a
// journal commit, milliseconds on a busy disk.
core::Result<void> WriteFileReplace(const std::string& path, const std::string& text);

}  // namespace sluss::sandbox::internal
