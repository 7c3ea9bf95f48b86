#pragma once

// Hashing files: one pass that hashes (and may copy) what a descriptor holds.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/digest.h"
#include "core/error.h"

namespace sluss::sandbox {

using core::Sha256Hex;

struct FileDigest {
  std::string sha256;  // hex
  std::int64_t size = 0;
};

// Hashes what can be read from `fd` to its end, or its first `size` bytes
// when `size` >= 0 (the size fstat gave: no read is made to learn of the
// end); when `copy_to` >= 0, writes every byte there too (one pass for
// hashing and copying an output).
core::Result<FileDigest> HashFd(int fd, int copy_to = -1, std::int64_t size = -1);

// Opens `path` without following a final symlink and hashes it.
core::Result<FileDigest> HashFile(const std::string& path);

}  // namespace sluss::sandbox
