#include "sandbox/internal/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/strings.h"

namespace sluss::sandbox::internal {

using core::StrCat;

core::Result<std::string> ReadText(const std::string& path, std::size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return core::NotFound(StrCat(path, ": ", std::strerror(errno)));
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > limit) {
      ::close(fd);
      return core::Fail(core::ErrorCode::kResourceExhausted, StrCat(path, " is too large"));
    }
  }
  ::close(fd);
  return text;
}

core::Result<nlohmann::json> ReadJson(const std::string& path) {
  auto text = ReadText(path);
  if (!text) return std::unexpected(text.error());
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) return core::InvalidArgument(StrCat(path, " is not valid JSON"));
  return j;
}

namespace {

core::Result<void> WriteAndRename(const std::string& path, const std::string& text, bool sync) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return core::Internal(StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return core::Internal(StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
    }
    off += static_cast<std::size_t>(n);
  }
  if ((sync && ::fsync(fd) != 0) || ::close(fd) != 0)
    return core::Internal(StrCat("cannot sync ", tmp, ": ", std::strerror(errno)));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return core::Internal(StrCat("cannot rename ", tmp, ": ", std::strerror(errno)));
  if (!sync) return {};
  const std::string dir = std::filesystem::path(path).parent_path();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

}  // namespace

core::Result<void> WriteFileAtomic(const std::string& path, const std::string& text) {
  return WriteAndRename(path, text, true);
}

core::Result<void> WriteFileReplace(const std::string& path, const std::string& text) {
  return WriteAndRename(path, text, false);
}

}  // namespace sluss::sandbox::internal
