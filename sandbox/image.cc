#include "sandbox/image.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/strings.h"
#include "sandbox/internal/files.h"
#include "sandbox/sha256.h"

namespace sluss::sandbox {
namespace {

namespace fs = std::filesystem;
using core::StrCat;

}  // namespace

core::Result<std::string> ImageDigest(const std::string& rootfs, std::string* manifest_out,
                                      const std::string& cache_file) {
  std::error_code ec;
  nlohmann::json cache = nlohmann::json::object(), fresh = nlohmann::json::object();
  if (!cache_file.empty()) {
    if (auto text = internal::ReadText(cache_file, 256 << 20)) {
      cache = nlohmann::json::parse(*text, nullptr, false);
      if (!cache.is_object()) cache = nlohmann::json::object();
    }
  }
  if (!fs::is_directory(rootfs, ec))
    return core::NotFound(StrCat("image root ", rootfs, " is not a directory"));
  std::vector<std::string> lines;
  fs::recursive_directory_iterator it(rootfs, fs::directory_options::none, ec), end;
  if (ec) return core::Internal(StrCat("cannot read ", rootfs, ": ", ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) return core::Internal(StrCat("cannot read ", rootfs, ": ", ec.message()));
    const fs::path& p = it->path();
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) continue;
    std::string rel = fs::relative(p, rootfs, ec).string();
    std::string type, content = "-";
    if (S_ISREG(st.st_mode)) {
      type = "f";
      const nlohmann::json key = {st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
      auto hit = cache.find(rel);
      if (hit != cache.end() && hit->is_array() && hit->size() == 2 && (*hit)[0] == key) {
        content = (*hit)[1].get<std::string>();
      } else {
        auto d = HashFile(p);
        if (!d) return std::unexpected(d.error());
        content = d->sha256;
      }
      if (!cache_file.empty()) fresh[rel] = {key, content};
    } else if (S_ISDIR(st.st_mode)) {
      type = "d";
    } else if (S_ISLNK(st.st_mode)) {
      type = "l";
      content = fs::read_symlink(p, ec).string();
    } else {
      type = "o";
    }
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    lines.push_back(StrCat(type, " ", mode, " ", st.st_uid, ":", st.st_gid, " ",
                           S_ISREG(st.st_mode) ? st.st_size : 0, " ", content, " ", rel));
  }
  std::sort(lines.begin(), lines.end(), [](const std::string& a, const std::string& b) {
    return a.substr(a.rfind(' ') + 1) < b.substr(b.rfind(' ') + 1);
  });
  std::string manifest;
  for (const auto& l : lines) manifest += l + "\n";
  if (manifest_out) *manifest_out = manifest;
  if (!cache_file.empty()) (void)internal::WriteFileAtomic(cache_file, fresh.dump());
  return "sha256:" + Sha256Hex(manifest);
}

core::Result<ImageSpec> MakeHostImage(const std::string& dir) {
  std::error_code ec;
  const fs::path root(dir);
  fs::create_directories(root, ec);
  if (ec) return core::Internal(StrCat("cannot create ", dir, ": ", ec.message()));
  for (const char* d : {"usr", "proc", "dev", "sys", "tmp", "workspace", "data", "etc", "run",
                        "var/tmp", "root"})
    fs::create_directories(root / d, ec);
  for (const char* l : {"bin", "sbin", "lib", "lib32", "lib64", "libx32"}) {
    if (!fs::exists(fs::path("/usr") / l)) continue;
    if (!fs::is_symlink(root / l, ec)) fs::create_directory_symlink(fs::path("usr") / l, root / l, ec);
  }
  ImageSpec image;
  image.name = "host";
  image.rootfs = fs::absolute(root).string();
  image.host_binds = {"/usr"};
  for (const char* etc : {"/etc/alternatives", "/etc/R"}) {
    if (fs::is_directory(etc, ec)) {
      fs::create_directories(root / fs::path(etc).relative_path(), ec);
      image.host_binds.push_back(etc);
    }
  }
  // Whatever the caller's umask (slussd's is 077), the job's uid must be
  // able to walk the image.
  for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (!it->is_symlink(ec) && it->is_directory(ec)) ::chmod(it->path().c_str(), 0755);
  const std::vector<std::pair<const char*, std::string>> files = {
      {"etc/passwd", "root:x:0:0:root:/root:/usr/sbin/nologin\n"
                     "sluss:x:10000:10000:sluss job:/tmp:/usr/sbin/nologin\n"
                     "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"},
      {"etc/group", "root:x:0:\nsluss:x:10000:\nnogroup:x:65534:\n"},
      {"etc/hosts", "127.0.0.1 localhost sluss-job\n::1 localhost\n"},
      {"etc/hostname", "sluss-job\n"},
      {"etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n"},
      {"etc/sluss-image", "host: the host's /usr, bound read-only\n"},
  };
  for (const auto& [name, text] : files) {
    auto w = internal::WriteFileAtomic((root / name).string(), text);
    if (!w) return std::unexpected(w.error());
    ::chmod((root / name).c_str(), 0644);
  }
  if (fs::exists("/etc/ld.so.cache"))
    fs::copy_file("/etc/ld.so.cache", root / "etc/ld.so.cache",
                  fs::copy_options::overwrite_existing, ec);
  ::chmod((root / "etc/ld.so.cache").c_str(), 0644);
  ::chmod(dir.c_str(), 0755);
  // runc gives a tmpfs the mode of the directory it covers.
  ::chmod((root / "tmp").c_str(), 01777);
  ::chmod((root / "var/tmp").c_str(), 01777);
  std::string manifest;
  auto tree = ImageDigest(image.rootfs, &manifest);
  if (!tree) return std::unexpected(tree.error());
  auto packages = internal::ReadText("/var/lib/dpkg/status", 256 << 20);
  manifest += "host-packages " + Sha256Hex(packages ? *packages : std::string()) + "\n";
  for (const auto& b : image.host_binds) manifest += "host-bind " + b + "\n";
  image.digest = "sha256:" + Sha256Hex(manifest);
  return image;
}

}  // namespace sluss::sandbox
