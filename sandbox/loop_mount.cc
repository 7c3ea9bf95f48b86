#include "sandbox/loop_mount.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "core/strings.h"
#include "sandbox/process.h"

namespace sluss::sandbox {
namespace {

using core::StrCat;

// The output file system lives as long as its job; what the job wrote is
// copied out before the unmount, and the image is then deleted. So: no cache
// flushes (each one an fsync of the image file on the host's disk, at the
// unmount), and no background zeroing of inode tables nobody will check.
constexpr const char* kExt4Options = "nobarrier,noinit_itable";

// Rounds of asking for a free loop device before giving up. Under the lock
// only a program outside sluss can take a device between the asking and the
// configuring, so a round is lost rarely, and this many in a row means
// something keeps taking them.
constexpr int kLoopAttempts = 1000;

// RAII for a file descriptor.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

core::Result<void> MountWithProgram(const std::string& image, const std::string& dir) {
  auto mount = RunCommand({"mount", "-o", StrCat("loop,nosuid,nodev,", kExt4Options), image, dir});
  if (!mount.ok())
    return core::Internal(StrCat("cannot mount the output file system (loop devices?): ",
                                 mount.LastLine(),
                                 "; set sandbox.output_fs: none to run without it"));
  return {};
}

core::Result<void> Mkfs(const std::string& image, std::int64_t bytes) {
  Fd fd{::open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
  if (fd.fd < 0 || ::ftruncate(fd.fd, bytes) != 0)
    return core::Internal(StrCat("cannot create the output image: ", std::strerror(errno)));
  // No journal (the file system lives as long as the job), no blocks
  // reserved for online resizing (never done here; they were 4 of the 4.3
  // MiB that every job's copy wrote for a 10 GiB file system).
  auto mkfs = RunCommand({"mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal,^resize_inode",
                          "-E", "root_owner=0:0,nodiscard", image});
  if (!mkfs.ok()) return core::Internal(StrCat("mkfs.ext4 failed: ", mkfs.LastLine()));
  return {};
}

// Copies FROM's data extents into TO, a new sparse file of the same size.
bool CopySparse(const std::string& from, const std::string& to, std::int64_t bytes) {
  Fd in{::open(from.c_str(), O_RDONLY | O_CLOEXEC)};
  Fd out{::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
  if (in.fd < 0 || out.fd < 0 || ::ftruncate(out.fd, bytes) != 0) return false;
  off_t pos = 0;
  for (;;) {
    off_t data = ::lseek(in.fd, pos, SEEK_DATA);
    if (data < 0) return errno == ENXIO;  // no more data: done
    off_t hole = ::lseek(in.fd, data, SEEK_HOLE);
    if (hole < 0) return false;
    off_t src = data, dst = data;
    while (src < hole) {
      ssize_t n = ::copy_file_range(in.fd, &src, out.fd, &dst, static_cast<std::size_t>(hole - src), 0);
      if (n <= 0) return false;
    }
    pos = hole;
  }
}

bool SafeDirectory(const std::string& dir) {
  struct stat st;
  return ::lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 &&
         (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

// Removes the least recently used templates (their mtime is set at each
// use) until fewer than kMaxOutputTemplates are left, `keep` aside.
void PruneTemplates(const std::string& dir, const std::string& keep) {
  std::vector<std::pair<std::filesystem::file_time_type, std::filesystem::path>> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename();
    if (!name.starts_with("ext4-") || !name.ends_with(".img") || e.path() == keep) continue;
    found.emplace_back(e.last_write_time(ec), e.path());
  }
  std::sort(found.begin(), found.end());
  for (std::size_t i = 0; i + kMaxOutputTemplates <= found.size(); ++i)
    std::filesystem::remove(found[i].second, ec);
}

}  // namespace

core::Result<void> MakeExt4Image(const std::string& image, std::int64_t bytes,
                                 const std::string& template_dir) {
  ::mkdir(template_dir.c_str(), 0700);
  if (::geteuid() != 0 || !SafeDirectory(template_dir)) return Mkfs(image, bytes);
  const std::string tpl = StrCat(template_dir, "/ext4-", bytes, ".img");
  if (::access(tpl.c_str(), R_OK) != 0) {
    PruneTemplates(template_dir, tpl);
    // Made aside and renamed into place: a template is whole or absent.
    const std::string tmp = StrCat(tpl, ".tmp.", ::getpid());
    if (auto m = Mkfs(tmp, bytes); !m) {
      ::unlink(tmp.c_str());
      return m;
    }
    if (::rename(tmp.c_str(), tpl.c_str()) != 0) {
      ::unlink(tmp.c_str());
      return Mkfs(image, bytes);
    }
  }
  ::utimensat(AT_FDCWD, tpl.c_str(), nullptr, 0);  // used now: pruned last
  if (CopySparse(tpl, image, bytes)) return {};
  return Mkfs(image, bytes);
}

core::Result<void> MountLoopImage(const std::string& image, const std::string& dir) {
  Fd file{::open(image.c_str(), O_RDWR | O_CLOEXEC)};
  if (file.fd < 0)
    return core::Internal(StrCat("cannot open the output image: ", std::strerror(errno)));
  Fd control{::open("/dev/loop-control", O_RDWR | O_CLOEXEC)};
  if (control.fd < 0)
    return core::Internal(StrCat("cannot open /dev/loop-control (loop devices?): ",
                                 std::strerror(errno),
                                 "; set sandbox.output_fs: none to run without it"));
  // LOOP_CTL_GET_FREE hands the same free device to everyone who asks
  // until one of them configures it, so at 64 jobs starting at once most
  // lose a round, and some lost 16 in a row ("no free loop device after 16
  // attempts"). Asking and configuring under an exclusive lock on the
  // control device makes the two one step for every sluss-run on the host;
  // the lock is held for two ioctls, not for the mount. A program that does
  // not take the lock (losetup) can still win a device first: that is
  // EBUSY, and the next round asks for another.
  if (::flock(control.fd, LOCK_EX) != 0)
    return core::Internal(StrCat("cannot lock /dev/loop-control: ", std::strerror(errno)));
  std::string device;
  Fd loop;
  for (int attempt = 0;; ++attempt) {
    if (attempt == kLoopAttempts) {
      ::flock(control.fd, LOCK_UN);
      return core::Internal(StrCat("no free loop device after ", kLoopAttempts,
                                   " attempts (another program keeps taking them)"));
    }
    int n = ::ioctl(control.fd, LOOP_CTL_GET_FREE);
    if (n < 0) {
      int err = errno;
      ::flock(control.fd, LOCK_UN);
      return core::Internal(StrCat("no free loop device: ", std::strerror(err)));
    }
    device = StrCat("/dev/loop", n);
    loop = Fd{::open(device.c_str(), O_RDWR | O_CLOEXEC)};
    if (loop.fd < 0) {
      if (errno == ENOENT) {  // udev has not made the node yet
        ::sched_yield();
        continue;
      }
      int err = errno;
      ::flock(control.fd, LOCK_UN);
      return core::Internal(StrCat("cannot open ", device, ": ", std::strerror(err)));
    }
    struct loop_config config {};
    config.fd = static_cast<unsigned>(file.fd);
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    if (::ioctl(loop.fd, LOOP_CONFIGURE, &config) == 0) break;
    int err = errno;
    ::close(std::exchange(loop.fd, -1));
    if (err == EBUSY) continue;
    ::flock(control.fd, LOCK_UN);
    if (err == EINVAL || err == ENOTTY) return MountWithProgram(image, dir);
    return core::Internal(StrCat("cannot attach ", device, ": ", std::strerror(err)));
  }
  ::flock(control.fd, LOCK_UN);
  if (::mount(device.c_str(), dir.c_str(), "ext4", MS_NOSUID | MS_NODEV, kExt4Options) != 0) {
    int err = errno;
    ::ioctl(loop.fd, LOOP_CLR_FD, 0);
    return core::Internal(StrCat("cannot mount the output file system: ", std::strerror(err)));
  }
  return {};  // closing the device leaves it attached until the unmount
}

bool UnmountIfMounted(const std::string& dir) {
  if (::umount2(dir.c_str(), UMOUNT_NOFOLLOW) == 0) return true;
  if (errno == EBUSY) return ::umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0;
  return false;  // EINVAL: not a mount point
}

}  // namespace sluss::sandbox
