#pragma once

// Images: directory root filesystems, identified by the SHA-256 of their
// sorted file manifest, and the `host` image that tests and the demo use.

#include <string>

#include "core/error.h"
#include "sandbox/run_spec.h"

namespace sluss::sandbox {

// "sha256:<hex>" of the manifest of `rootfs`: one line per entry, sorted by
// path, "<type> <mode> <uid>:<gid> <size> <sha256 or link target> <path>".
// Symlinks are recorded, never followed. `manifest_out`, when given,
// receives the manifest text.
// With `cache_file`, each regular file's hash is kept there by path with its
// inode, size and mtime, and reused while those match: a restart hashes
// only what changed.
core::Result<std::string> ImageDigest(const std::string& rootfs,
                                      std::string* manifest_out = nullptr,
                                      const std::string& cache_file = "");

// Makes (or refreshes) the `host` image in `dir`: a tiny root with
// bin/lib/sbin as links into /usr, mount points, a minimal /etc, and the
// host's /usr (with /etc/alternatives and /etc/R) bound read-only when a job
// runs. Its digest covers that tree and the host's package list
// (/var/lib/dpkg/status), so a host upgrade changes it. It exists so that
// tests and the demo need no debootstrap; provenance marks it as `host`.
core::Result<ImageSpec> MakeHostImage(const std::string& dir);

}  // namespace sluss::sandbox
