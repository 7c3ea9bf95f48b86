#pragma once
// A job's own writable layer over its image: an overlay whose lower layer
// is the image's directory and whose upper layer is a small tmpfs of the
// job's. The OCI runtime creates every bind-mount target inside the root
// it is given, and CDI hooks (nvidia-ctk's update-ldcache and
// create-symlinks) write /etc/ld.so.cache, /etc/ld.so.conf.d/ and .so
// links into it before the root becomes read-only: given the layer, they
// write there, and the approved image on disk (and its digest) stays as it
// was. The layer goes with the job.

#include <cstdint>
#include <string>

#include "core/error.h"

namespace sluss::sandbox {

inline constexpr std::int64_t kJobLayerBytes = std::int64_t{64} << 20;

// Mounts a tmpfs at JOB_DIR/layer and the overlay at JOB_DIR/rootfs, and
// returns the latter. The overlay's root has the image root's mode and
// owner. An image path that overlayfs cannot name (',', ':', '\') is
// refused. REQUIRES: root (mount(2)).
core::Result<std::string> MountJobLayer(const std::string& image_rootfs,
                                        const std::string& job_dir);

// Unmounts what MountJobLayer mounted (lazily where busy); nothing when it
// mounted nothing. Safe to call twice.
void UnmountJobLayer(const std::string& job_dir);

}  // namespace sluss::sandbox
