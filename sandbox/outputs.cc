#include "sandbox/outputs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>

#include "core/glob.h"
#include "core/strings.h"
#include "sandbox/sha256.h"

namespace sluss::sandbox {
namespace {

using core::StrCat;

constexpr int kMaxDepth = 32;
constexpr std::size_t kMaxEntries = 100'000;

// A job's file names are its data: any bytes but '/' and NUL, up to 255
// per name and 4 KiB per path. What sluss records (result.json, the
// database, provenance, `run show`) is UTF-8 text that people read, so an
// output's path must be printable UTF-8 of a sensible length; others are
// refused by name, escaped.
constexpr std::size_t kMaxOutputPath = 1024;
constexpr std::size_t kMaxShown = 160;

// `path` for a message: control characters and bytes that are not UTF-8 as
// \xNN, long paths cut with "...", so that the message itself is text.
std::string Printable(std::string_view path) {
  std::string out;
  std::size_t i = 0;
  while (i < path.size() && out.size() < kMaxShown) {
    const auto u = static_cast<unsigned char>(path[i]);
    std::size_t bad = core::FindInvalidUtf8(path.substr(i, 4));
    const std::size_t len = u < 0x80 ? 1 : u >= 0xF0 ? 4 : u >= 0xE0 ? 3 : 2;
    if (u < 0x20 || u == 0x7f || (u >= 0x80 && (bad != std::string_view::npos && bad < len))) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
      ++i;
    } else {
      out.append(path.substr(i, len));
      i += len;
    }
  }
  if (i < path.size()) out += "...";
  return out;
}

// Why `path` (from the job's directory) may not be an output's name, or
// nothing.
std::optional<std::string> NameProblem(std::string_view path) {
  if (path.size() > kMaxOutputPath)
    return StrCat(Printable(path), " has a path of ", path.size(), " bytes; the limit is ",
                  kMaxOutputPath, "; it was not collected");
  if (core::FindInvalidUtf8(path) != std::string_view::npos)
    return StrCat(Printable(path), " has a name that is not UTF-8; it was not collected");
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f)
      return StrCat(Printable(path),
                    " has a control character (a newline, a tab, ...) in its name; it was not "
                    "collected");
  }
  return std::nullopt;
}

struct Entry {
  std::string path;  // "output/..."
  mode_t type;       // the S_IFMT bits
};

// The S_IFMT bits of a directory entry's d_type; 0 when the file system
// does not say (DT_UNKNOWN), and fstatat must.
mode_t TypeOf(unsigned char d_type) {
  switch (d_type) {
    case DT_REG: return S_IFREG;
    case DT_DIR: return S_IFDIR;
    case DT_LNK: return S_IFLNK;
    case DT_CHR: return S_IFCHR;
    case DT_BLK: return S_IFBLK;
    case DT_FIFO: return S_IFIFO;
    case DT_SOCK: return S_IFSOCK;
    default: return 0;
  }
}

// Lists every entry under the directory `dirfd` without following symlinks.
// The type comes from the directory itself (no stat per entry: 20,000
// outputs were 20,000 fstatat calls); what a file is, is checked again on
// the descriptor that reads it.
core::Result<void> Walk(int dirfd, const std::string& prefix, int depth,
                        std::vector<Entry>& out) {
  if (depth > kMaxDepth)
    return core::Fail(core::ErrorCode::kResourceExhausted,
                      StrCat(Printable(prefix), " is nested more than ", kMaxDepth, " deep"));
  int fd = ::dup(dirfd);
  if (fd < 0) return core::Internal(StrCat("dup: ", std::strerror(errno)));
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    return core::Internal(StrCat("fdopendir: ", std::strerror(errno)));
  }
  ::rewinddir(dir);
  std::vector<std::pair<std::string, mode_t>> names;
  while (dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name == "." || name == ".." || name == "lost+found") continue;
    names.emplace_back(name, TypeOf(e->d_type));
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  for (auto& [name, type] : names) {
    if (out.size() >= kMaxEntries)
      return core::Fail(core::ErrorCode::kResourceExhausted,
                        StrCat("more than ", kMaxEntries, " files in output/"));
    if (type == 0) {
      struct stat st;
      if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      type = st.st_mode & S_IFMT;
    }
    out.push_back({prefix + "/" + name, type});
    if (S_ISDIR(type)) {
      int sub = ::openat(dirfd, name.c_str(),
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) continue;
      // A copy: `out` grows (and moves) while the directory is walked.
      const std::string sub_path = out.back().path;
      auto r = Walk(sub, sub_path, depth + 1, out);
      ::close(sub);
      if (!r) return r;
    }
  }
  return {};
}

// Opens `rel` under `root` for reading without following any symlink on the
// way (openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS; plain openat with
// O_NOFOLLOW, for the last component only, where the kernel has no openat2),
// and without blocking on a FIFO put in a file's place.
int OpenBeneath(int root, const std::string& rel) {
  constexpr int kFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
  static std::atomic<bool> no_openat2{false};
  if (!no_openat2) {
    open_how how{};
    how.flags = kFlags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    const long fd = ::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);
    no_openat2 = true;
  }
  return ::openat(root, rel.c_str(), kFlags);
}

bool HasGlob(std::string_view p) {
  return p.find_first_of("*?[") != std::string_view::npos;
}

std::string Kind(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISDIR(mode)) return "a directory";
  return "not a regular file";
}

// Every copy and directory entry under `dir` on disk, with one syncfs of
// its file system: a sync per file (fdatasync, then fsync of each directory)
// took 74 s for 20,000 small outputs here.
core::Result<void> SyncFileSystemOf(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return core::Internal(StrCat("cannot open ", dir, ": ", std::strerror(errno)));
  const int rc = ::syncfs(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return core::Internal(StrCat("cannot sync the outputs: ", std::strerror(err)));
  return {};
}

}  // namespace

core::Result<CollectedOutputs> CollectOutputs(const std::string& output_dir,
                                              const std::vector<std::string>& patterns,
                                              const std::vector<std::string>& skip,
                                              const std::string& copy_to,
                                              std::uint64_t max_bytes) {
  CollectedOutputs result;
  std::uint64_t kept_bytes = 0;
  int root = ::open(output_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root < 0)
    return core::Internal(StrCat("cannot open the output directory: ", std::strerror(errno)));
  std::vector<Entry> entries;
  auto walked = Walk(root, "output", 0, entries);
  if (!walked) {
    ::close(root);
    return std::unexpected(walked.error());
  }
  const std::set<std::string> skipped(skip.begin(), skip.end());
  std::set<std::string> matched_patterns;
  // The copies' directory, open: each copy is made by its name in it, not
  // by a whole path looked up again for every file.
  std::string made_dir;  // relative to copy_to
  int made_fd = -1;
  auto close_all = [&] {
    if (made_fd >= 0) ::close(made_fd);
    ::close(root);
  };
  for (const auto& e : entries) {
    if (skipped.contains(e.path)) continue;
    bool wanted = false;
    for (const auto& p : patterns) {
      if (core::GlobMatch(p, e.path)) {
        wanted = true;
        matched_patterns.insert(p);
      }
    }
    if (!wanted) continue;
    if (auto why = NameProblem(e.path)) {
      if (!S_ISDIR(e.type)) result.problems.push_back(std::move(*why));
      continue;
    }
    if (!S_ISREG(e.type)) {
      if (S_ISDIR(e.type)) continue;  // "output/**" walks through dirs
      result.problems.push_back(StrCat(e.path, " is ", Kind(e.type),
                                       ", not a regular file; it was not collected"));
      continue;
    }
    const std::string rel = e.path.substr(std::string_view("output/").size());
    int fd = OpenBeneath(root, rel);
    if (fd < 0) {
      result.problems.push_back(errno == ELOOP || errno == EXDEV
                                    ? StrCat(e.path, " changed while it was collected")
                                    : StrCat(e.path, " cannot be read: ", std::strerror(errno)));
      continue;
    }
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      result.problems.push_back(StrCat(e.path, " changed while it was collected"));
      continue;
    }
    if (st.st_nlink != 1) {
      ::close(fd);
      result.problems.push_back(StrCat(e.path, " is a hard link (", st.st_nlink,
                                       " names); it was not collected"));
      continue;
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (max_bytes && kept_bytes + size > max_bytes) {
      ::close(fd);
      result.over_limit = true;
      result.problems.push_back(StrCat(e.path, " (", size, " bytes) was not kept: with it the outputs "
                                       "would be over the job's output limit of ", max_bytes,
                                       " bytes"));
      continue;
    }
    kept_bytes += size;
    int out = -1;
    if (!copy_to.empty()) {
      const std::size_t slash = e.path.rfind('/');
      const std::string parent = e.path.substr(0, slash);
      if (parent != made_dir || made_fd < 0) {  // many outputs share one directory
        if (made_fd >= 0) ::close(made_fd);
        const std::string dir = StrCat(copy_to, "/", parent);
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        made_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        made_dir = parent;
        if (made_fd < 0) {
          const int err = errno;
          ::close(fd);
          close_all();
          return core::Internal(StrCat("cannot write ", dir, ": ", std::strerror(err)));
        }
      }
      const char* name = e.path.c_str() + slash + 1;
      // A new file (no truncation, which ext4 follows with a flush at
      // close); one left by an earlier collection into the same place is
      // replaced.
      out = ::openat(made_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (out < 0 && errno == EEXIST)
        out = ::openat(made_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (out < 0) {
        const int err = errno;
        ::close(fd);
        close_all();
        return core::Internal(
            StrCat("cannot write ", copy_to, "/", e.path, ": ", std::strerror(err)));
      }
    }
    auto digest = HashFd(fd, out, st.st_size);
    ::close(fd);
    if (out >= 0) ::close(out);
    if (!digest) {
      close_all();
      return std::unexpected(digest.error());
    }
    result.files.push_back({e.path, digest->size, digest->sha256});
  }
  if (made_fd >= 0) ::close(made_fd);
  ::close(root);
  if (!copy_to.empty() && !result.files.empty()) {
    // Every output, for whoever needs more than the result's first
    // core::kMaxListedOutputs (the dependents' inputs, provenance).
    const std::string manifest = core::FormatOutputManifest(result.files);
    const std::string path = StrCat(copy_to, "/", core::kOutputManifest);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return core::Internal(StrCat("cannot write ", path, ": ", std::strerror(errno)));
    std::size_t done = 0;
    while (done < manifest.size()) {
      const ssize_t n = ::write(fd, manifest.data() + done, manifest.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int err = errno;
        ::close(fd);
        return core::Internal(StrCat("cannot write ", path, ": ", std::strerror(err)));
      }
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    result.manifest_sha256 = Sha256Hex(manifest);
  }
  // On disk before result.json names them with their hashes: a result that
  // survives a host crash must not name outputs that did not.
  if (!copy_to.empty() && !result.files.empty()) {
    if (auto s = SyncFileSystemOf(copy_to); !s) return std::unexpected(s.error());
  }
  for (const auto& p : patterns) {
    if (matched_patterns.contains(p)) continue;
    result.problems.push_back(HasGlob(p) ? StrCat(p, " matched no file")
                                         : StrCat(p, " was not written"));
  }
  std::sort(result.problems.begin(), result.problems.end());
  return result;
}

}  // namespace sluss::sandbox
