#pragma once
// Mounting a job's output file system (an ext4 image) through a loop device
// with system calls, not mount(8) and umount(8): two fewer programs to start
// per job (some 5 ms of a trivial job's sandbox), and errors that name the
// step that failed.

#include <string>

#include "core/error.h"

namespace sluss::sandbox {

// Attaches IMAGE to a free loop device (freed by the kernel when unmounted)
// and mounts it at DIR as ext4, nosuid and nodev. Falls back to
// `mount -o loop` where the kernel lacks LOOP_CONFIGURE (before 5.8).
core::Result<void> MountLoopImage(const std::string& image, const std::string& dir);

// Makes IMAGE: an empty ext4 file system (no journal, no reserved blocks)
// of BYTES, sparse, its root owned by root (the caller hands it to the job
// after mounting). The first image of a size is made with mkfs.ext4 as
// TEMPLATE_DIR/ext4-BYTES.img; later ones copy that file's data extents
// (some 230 KiB for 10 GiB), a fraction of the cost of starting mkfs. The
// template directory is used only when it is root's and nobody else may
// write to it (a crafted image would be mounted by the kernel); otherwise,
// or when the copy fails, mkfs.ext4 makes the image itself. At most
// kMaxOutputTemplates templates are kept (each distinct size a job asks
// for makes one): making another removes the least recently used.
inline constexpr int kMaxOutputTemplates = 8;
core::Result<void> MakeExt4Image(const std::string& image, std::int64_t bytes,
                                 const std::string& template_dir);

// Unmounts DIR (lazily if it is busy). True if something was mounted there.
bool UnmountIfMounted(const std::string& dir);

}  // namespace sluss::sandbox
