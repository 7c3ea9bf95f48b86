#include "sandbox/loop_mount.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/strings.h"
#include "sandbox/process.h"

namespace sluss::sandbox {
namespace {

using core::StrCat;

// RAII for a file descriptor.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

core::Result<void> MountWithProgram(const std::string& image, const std::string& dir) {
  auto mount = RunCommand({"mount", "-o", "loop,nosuid,nodev", image, dir});
  if (!mount.ok())
    return core::Internal(StrCat("cannot mount the output file system (loop devices?): ",
                                 mount.LastLine(),
                                 "; set sandbox.output_fs: none to run without it"));
  return {};
}

}  // namespace

core::Result<void> MountLoopImage(const std::string& image, const std::string& dir) {
  Fd file{::open(image.c_str(), O_RDWR | O_CLOEXEC)};
  if (file.fd < 0)
    return core::Internal(StrCat("cannot open the output image: ", std::strerror(errno)));
  Fd control{::open("/dev/loop-control", O_RDWR | O_CLOEXEC)};
  if (control.fd < 0)
    return core::Internal(StrCat("cannot open /dev/loop-control (loop devices?): ",
                                 std::strerror(errno),
                                 "; set sandbox.output_fs: none to run without it"));
  // Another process may take the free device between asking and
  // configuring: ask again (as losetup does).
  for (int attempt = 0; attempt < 16; ++attempt) {
    int n = ::ioctl(control.fd, LOOP_CTL_GET_FREE);
    if (n < 0)
      return core::Internal(StrCat("no free loop device: ", std::strerror(errno)));
    const std::string device = StrCat("/dev/loop", n);
    Fd loop{::open(device.c_str(), O_RDWR | O_CLOEXEC)};
    if (loop.fd < 0) {
      if (errno == ENOENT) continue;  // udev has not made the node yet
      return core::Internal(StrCat("cannot open ", device, ": ", std::strerror(errno)));
    }
    struct loop_config config {};
    config.fd = static_cast<unsigned>(file.fd);
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    if (::ioctl(loop.fd, LOOP_CONFIGURE, &config) != 0) {
      if (errno == EBUSY) continue;
      if (errno == EINVAL || errno == ENOTTY) return MountWithProgram(image, dir);
      return core::Internal(StrCat("cannot attach ", device, ": ", std::strerror(errno)));
    }
    if (::mount(device.c_str(), dir.c_str(), "ext4", MS_NOSUID | MS_NODEV, "") != 0) {
      int err = errno;
      ::ioctl(loop.fd, LOOP_CLR_FD, 0);
      return core::Internal(StrCat("cannot mount the output file system: ", std::strerror(err)));
    }
    return {};  // closing the device leaves it attached until the unmount
  }
  return core::Internal("no free loop device after 16 attempts");
}

bool UnmountIfMounted(const std::string& dir) {
  if (::umount2(dir.c_str(), UMOUNT_NOFOLLOW) == 0) return true;
  if (errno == EBUSY) return ::umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0;
  return false;  // EINVAL: not a mount point
}

}  // namespace sluss::sandbox
