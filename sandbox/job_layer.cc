#include "sandbox/job_layer.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/strings.h"
#include "sandbox/loop_mount.h"

namespace sluss::sandbox {

namespace fs = std::filesystem;
using core::StrCat;

core::Result<std::string> MountJobLayer(const std::string& image_rootfs,
                                        const std::string& job_dir) {
  if (image_rootfs.find_first_of(",:\\") != std::string::npos ||
      job_dir.find_first_of(",:\\") != std::string::npos)
    return core::Internal(StrCat("the image directory ", image_rootfs, " or the job directory ",
                                 job_dir, " has a ',', ':' or '\\' in its path, which an "
                                 "overlay mount cannot name"));
  struct stat root_st;
  if (::stat(image_rootfs.c_str(), &root_st) != 0 || !S_ISDIR(root_st.st_mode))
    return core::Internal(StrCat("the image directory ", image_rootfs, " is missing"));
  const std::string layer = job_dir + "/layer", rootfs = job_dir + "/rootfs";
  std::error_code ec;
  fs::create_directories(layer, ec);
  fs::create_directories(rootfs, ec);
  if (ec) return core::Internal(StrCat("cannot make the job's layer: ", ec.message()));
  const std::string tmpfs_opts = StrCat("size=", kJobLayerBytes, ",mode=0700");
  if (::mount("sluss-layer", layer.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_opts.c_str()) !=
      0)
    return core::Internal(StrCat("cannot mount the job's layer: ", std::strerror(errno)));
  const std::string upper = layer + "/upper", work = layer + "/work";
  if (::mkdir(upper.c_str(), 0755) != 0 || ::mkdir(work.c_str(), 0700) != 0 ||
      ::chmod(upper.c_str(), root_st.st_mode & 07777) != 0 ||
      ::chown(upper.c_str(), root_st.st_uid, root_st.st_gid) != 0) {
    const int err = errno;
    UnmountIfMounted(layer);
    return core::Internal(StrCat("cannot prepare the job's layer: ", std::strerror(err)));
  }
  const std::string opts =
      StrCat("lowerdir=", image_rootfs, ",upperdir=", upper, ",workdir=", work);
  if (::mount("sluss-job", rootfs.c_str(), "overlay", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
    const int err = errno;
    UnmountIfMounted(layer);
    return core::Internal(StrCat("cannot mount the job's overlay over its image: ",
                                 std::strerror(err)));
  }
  return rootfs;
}

void UnmountJobLayer(const std::string& job_dir) {
  UnmountIfMounted(job_dir + "/rootfs");
  UnmountIfMounted(job_dir + "/layer");
}

}  // namespace sluss::sandbox
