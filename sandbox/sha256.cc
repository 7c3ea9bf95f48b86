#include "sandbox/sha256.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "core/strings.h"

namespace sluss::sandbox {

core::Result<FileDigest> HashFd(int fd, int copy_to, std::int64_t size) {
  core::Sha256 hash;
  // One buffer per thread, never zeroed: a fresh 1 MiB vector per file
  // (zeroed, mmapped, faulted in) was most of the time it took to collect
  // 20,000 small outputs.
  constexpr std::size_t kBuf = 1 << 20;
  thread_local std::unique_ptr<char[]> storage(new char[kBuf]);
  struct {
    char* data() { return p; }
    std::size_t size() const { return kBuf; }
    char* p;
  } buf{storage.get()};
  FileDigest d;
  // With the size known, the read that would only say "end of file" (one
  // system call per small output) is not made.
  while (size < 0 || d.size < size) {
    ssize_t got = ::read(fd, buf.data(), buf.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      return core::Internal(core::StrCat("read failed: ", std::strerror(errno)));
    }
    if (got == 0) break;
    hash.Update(buf.data(), static_cast<std::size_t>(got));
    d.size += got;
    for (ssize_t off = 0; copy_to >= 0 && off < got;) {
      ssize_t put = ::write(copy_to, buf.data() + off, static_cast<std::size_t>(got - off));
      if (put < 0) {
        if (errno == EINTR) continue;
        return core::Fail(core::ErrorCode::kResourceExhausted,
                          core::StrCat("write failed: ", std::strerror(errno)));
      }
      off += put;
    }
  }
  d.sha256 = core::ToHex(hash.Final());
  return d;
}
core::Result<FileDigest> HashFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return core::NotFound(core::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  auto d = HashFd(fd);
  ::close(fd);
  return d;
}

}  // namespace sluss::sandbox
