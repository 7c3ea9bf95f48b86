#include "executors/disk_space.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include "core/quantity.h"
#include "core/strings.h"

namespace sluss::executors {

std::string DiskShortfall(const std::vector<std::string>& dirs, std::int64_t reserve_bytes) {
  if (reserve_bytes <= 0) return "";
  for (const std::string& dir : dirs) {
    struct statvfs st {};
    if (::statvfs(dir.c_str(), &st) != 0) {
      return core::StrCat("waiting_on_disk: cannot look at ", dir, " (", std::strerror(errno), ")");
    }
    const auto free_bytes =
        static_cast<std::int64_t>(st.f_bavail) * static_cast<std::int64_t>(st.f_frsize);
    if (free_bytes < reserve_bytes) {
      return core::StrCat("waiting_on_disk: ", core::FormatBytes(free_bytes), " free on ", dir,
                          ", ", core::FormatBytes(reserve_bytes), " reserved");
    }
  }
  return "";
}

}  // namespace sluss::executors
