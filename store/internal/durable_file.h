#pragma once

// Small files written whole or not at all (the high-water mark, the audit
// anchor): what a crash or a full disk may leave is the old file or the
// new one, never a part.

#include <string>
#include <string_view>

#include "core/error.h"

namespace sluss::store::internal {

// `text` into `path`: a 0600 temporary beside it (opened without following
// a link), fsync, rename over `path`, fsync of the directory. On failure
// the temporary is removed and the error names the file and errno.
core::Result<void> WriteFileWhole(const std::string& path, std::string_view text);

// fsync of a file or directory opened with `flags` (O_RDONLY, or with
// O_DIRECTORY).
core::Result<void> SyncPath(const std::string& path, int flags);

}  // namespace sluss::store::internal
