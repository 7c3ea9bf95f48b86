#pragma once

// Dataset versions on disk: hashing a directory into a BagIt-style manifest
// (`manifest-sha256.txt`: "<sha256>  <path>" per file, sorted by path), the
// version's id (sha256: of that manifest text), and the checks that the
// directory has not changed since: a quick one by size and mtime at every
// job start, a full re-hash on demand.
//
// A dataset holds regular files and directories only: a symlink, device,
// FIFO or socket in it is refused with its path, so a job never sees more
// than what was hashed.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace sluss::provenance {

struct ManifestEntry {
  std::string path;    // relative, '/'-separated
  std::string sha256;  // hex
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
};

struct Manifest {
  std::vector<ManifestEntry> files;  // sorted by path

  std::int64_t Bytes() const;
  // The BagIt manifest text.
  std::string Text() const;
  // "sha256:<hex of Text()>".
  std::string Id() const;
  // Size and mtime per file, for the quick check: "<size> <mtime_ns> <path>".
  std::string StatText() const;
  // From the two texts written by Write. kInvalidArgument for a damaged one.
  static core::Result<Manifest> Parse(const std::string& manifest_text,
                                      const std::string& stat_text);
};

// Progress of a hash, readable from another thread.
struct HashProgress {
  std::atomic<std::int64_t> files_total{0};
  std::atomic<std::int64_t> bytes_total{0};
  std::atomic<std::int64_t> files_done{0};
  std::atomic<std::int64_t> bytes_done{0};
  // Set from another thread to stop hashing early (kCancelled).
  std::atomic<bool> cancel{false};
};

// Lists `root` and hashes every file on `threads` threads. kInvalidArgument
// naming the path for anything that is not a regular file or directory, or
// a path with a newline; kNotFound when root is not a directory.
core::Result<Manifest> HashDirectory(const std::string& root, int threads,
                                     HashProgress* progress = nullptr);

// Quick check: the same files, each with the size and mtime recorded.
// kFailedPrecondition naming the first difference ("rx.csv: size 100, was
// 80"), for people: the steward registers a new version.
core::Result<void> CheckUnchanged(const std::string& root, const Manifest& manifest);

// Full check: hashes everything again and compares (also size and mtime
// differences that leave the content unchanged pass).
core::Result<void> VerifyContent(const std::string& root, const Manifest& manifest, int threads,
                                 HashProgress* progress = nullptr);

// Writes manifest-sha256.txt and files.txt into `dir` (atomically, each
// through a temporary file), and reads them back.
core::Result<void> WriteManifest(const std::string& dir, const Manifest& manifest);
core::Result<Manifest> ReadManifest(const std::string& dir);

}  // namespace sluss::provenance
