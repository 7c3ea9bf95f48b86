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

// Unmounts DIR (lazily if it is busy). True if something was mounted there.
bool UnmountIfMounted(const std::string& dir);

}  // namespace sluss::sandbox
