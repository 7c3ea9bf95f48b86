#include "executors/image_contents.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "core/strings.h"

namespace sluss::executors {

using core::StrCat;

namespace {

// Enough for Python's and R's headers; dpkg's status gets kMaxControlBytes.
constexpr std::size_t kMaxMetadataBytes = 256u << 10;
// Directory entries looked at per library directory.
constexpr std::size_t kMaxEntries = 20000;

// Every part of `rel` below `root`, the last included, exists and is not a
// symlink. `rel` has no "." or ".." parts (callers build it).
bool NoSymlinks(const std::string& root, const std::string& rel, mode_t* last_mode) {
  std::string path = root == "/" ? "" : root;
  std::size_t start = 0;
  struct stat st {};
  while (start < rel.size()) {
    auto slash = rel.find('/', start);
    path += "/" + rel.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (::lstat(path.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (last_mode) *last_mode = st.st_mode;
  return true;
}

std::string Join(const std::string& root, const std::string& rel) {
  return root == "/" ? "/" + rel : StrCat(root, "/", rel);
}

std::optional<std::string> ReadFile(const std::string& root, const std::string& rel,
                                    std::size_t max) {
  mode_t mode = 0;
  if (!NoSymlinks(root, rel, &mode) || !S_ISREG(mode)) return std::nullopt;
  int fd = ::open(Join(root, rel).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::nullopt;
  }
  std::string text(std::min<std::size_t>(static_cast<std::size_t>(st.st_size), max), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  return text;
}

// Names in the directory `rel`, sorted; empty when it is missing or a symlink.
std::vector<std::string> ListDir(const std::string& root, const std::string& rel) {
  std::vector<std::string> out;
  mode_t mode = 0;
  if (!NoSymlinks(root, rel, &mode) || !S_ISDIR(mode)) return out;
  DIR* dir = ::opendir(Join(root, rel).c_str());
  if (!dir) return out;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    out.push_back(std::move(name));
    if (out.size() >= kMaxEntries) break;
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

bool EndsWith(const std::string& s, std::string_view suffix) { return s.ends_with(suffix); }

void ReadPython(const std::string& root, const std::string& dir, core::ImageContents& c) {
  for (const auto& name : ListDir(root, dir)) {
    std::optional<std::string> text;
    if (EndsWith(name, ".dist-info")) {
      text = ReadFile(root, StrCat(dir, "/", name, "/METADATA"), kMaxMetadataBytes);
    } else if (EndsWith(name, ".egg-info")) {
      // A directory holding PKG-INFO, or PKG-INFO itself as a file.
      text = ReadFile(root, StrCat(dir, "/", name, "/PKG-INFO"), kMaxMetadataBytes);
      if (!text) text = ReadFile(root, StrCat(dir, "/", name), kMaxMetadataBytes);
    } else {
      continue;
    }
    auto pkg = text ? core::ParsePythonMetadata(*text) : std::nullopt;
    if (pkg) {
      c.packages.push_back(std::move(*pkg));
    } else {
      c.notes.push_back(StrCat("/", dir, "/", name, ": no Name and Version"));
    }
  }
}

void ReadR(const std::string& root, const std::string& dir, core::ImageContents& c) {
  for (const auto& name : ListDir(root, dir)) {
    auto text = ReadFile(root, StrCat(dir, "/", name, "/DESCRIPTION"), kMaxMetadataBytes);
    if (!text) continue;  // not a package (R's own files sit beside them)
    if (auto pkg = core::ParseRDescription(*text)) {
      c.packages.push_back(std::move(*pkg));
    } else {
      c.notes.push_back(StrCat("/", dir, "/", name, "/DESCRIPTION: no Package and Version"));
    }
  }
}

}  // namespace

core::ImageContents ReadImageContents(const std::string& root) {
  core::ImageContents c;
  if (auto status = ReadFile(root, "var/lib/dpkg/status", core::kMaxControlBytes)) {
    c.packages = core::ParseDpkgStatus(*status);
  } else {
    c.notes.push_back("no /var/lib/dpkg/status: Debian packages not listed");
  }
  // Debian's python3-* packages, pip's, and a Python built from source.
  std::vector<std::string> python_dirs = {"usr/lib/python3/dist-packages",
                                          "usr/local/lib/python3/dist-packages"};
  for (const char* lib : {"usr/lib", "usr/local/lib"})
    for (const auto& name : ListDir(root, lib))
      if (name.starts_with("python3."))
        for (const char* sub : {"site-packages", "dist-packages"})
          python_dirs.push_back(StrCat(lib, "/", name, "/", sub));
  for (const auto& dir : python_dirs) ReadPython(root, dir, c);
  for (const char* dir : {"usr/lib/R/library", "usr/lib/R/site-library",
                          "usr/local/lib/R/site-library", "usr/local/lib/R/library"})
    ReadR(root, dir, c);
  core::SortPackages(c.packages);
  for (const char* name : core::kInterpreters) {
    for (const char* bin : {"usr/bin", "usr/local/bin"}) {
      // The interpreter itself may be a link (python3 -> python3.11); the
      // directories holding it may not.
      struct stat st {};
      if (NoSymlinks(root, bin, nullptr) &&
          ::lstat(Join(root, StrCat(bin, "/", name)).c_str(), &st) == 0) {
        c.interpreters.push_back(name);
        break;
      }
    }
  }
  return c;
}

}  // namespace sluss::executors
