#include "sandbox/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "core/strings.h"

namespace sluss::sandbox {
namespace {

std::string Hex(const unsigned char* bytes, unsigned n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (unsigned i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  return Hex(md, n);
}

core::Result<FileDigest> HashFd(int fd, int copy_to) {
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    return core::Internal("cannot start SHA-256");
  std::vector<char> buf(1 << 20);
  FileDigest d;
  for (;;) {
    ssize_t got = ::read(fd, buf.data(), buf.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      return core::Internal(core::StrCat("read failed: ", std::strerror(errno)));
    }
    if (got == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(got));
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
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &n);
  d.sha256 = Hex(md, n);
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
