#pragma once

// Collecting a finished job's outputs from its output directory: declared
// paths and globs only, never following a symlink, refusing anything that
// is not a regular file of the job's own (a symlink, a device, a FIFO or a
// hard link), so that no job can make sluss read a host file for it.

#include <cstdint>
#include <string>
#include <vector>

#include "sandbox/run_spec.h"

namespace sluss::sandbox {

struct CollectedOutputs {
  std::vector<OutputFile> files;      // sorted by path
  std::vector<std::string> problems;  // for people: "output/x.csv was not written"
  // Some outputs were not kept: with them, the outputs would be more than
  // `max_bytes` (each counted by its logical size, so sparse files count
  // in full, as they take in full when copied).
  bool over_limit = false;
  // With `copy_to` and files: the SHA-256 of copy_to/MANIFEST.jsonl
  // (core::kOutputManifest), which lists every file of `files`.
  std::string manifest_sha256;
};

// `output_dir` is the host directory that was /workspace/output. Declared
// `patterns` are relative to /workspace ("output/*.csv"). Paths in `skip`
// (the inputs' mount points) are ignored. When `copy_to` is not empty, each
// accepted file is copied there under its path while it is hashed, as
// long as all those kept stay within `max_bytes` (0: no limit); past it,
// the rest are named in `problems` and not kept (`over_limit`). The copies
// and their manifest are on disk (one syncfs) before it returns.
core::Result<CollectedOutputs> CollectOutputs(const std::string& output_dir,
                                              const std::vector<std::string>& patterns,
                                              const std::vector<std::string>& skip,
                                              const std::string& copy_to,
                                              std::uint64_t max_bytes = 0);

}  // namespace sluss::sandbox
