#include "provenance/dataset.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "core/digest.h"
#include "core/strings.h"

namespace sluss::provenance {

using core::StrCat;
namespace fs = std::filesystem;

namespace {

struct Listed {
  std::string path;
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
};

std::int64_t MtimeNs(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// Every regular file under root, sorted by path; refuses anything else.
core::Result<std::vector<Listed>> List(const std::string& root) {
  struct stat st;
  if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return core::NotFound(StrCat(root, " is not a directory"));
  std::vector<Listed> out;
  std::vector<std::string> dirs = {""};
  while (!dirs.empty()) {
    std::string rel = dirs.back();
    dirs.pop_back();
    std::error_code ec;
    fs::directory_iterator it(rel.empty() ? fs::path(root) : fs::path(root) / rel, ec);
    if (ec) return core::Internal(StrCat("cannot list ", root, "/", rel, ": ", ec.message()));
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      std::string name = it->path().filename().string();
      std::string path = rel.empty() ? name : StrCat(rel, "/", name);
      if (path.find_first_of("\n\r") != std::string::npos)
        return core::InvalidArgument(StrCat("a file name holds a line break: ", core::Quote(path)));
      struct stat s;
      if (::lstat(it->path().c_str(), &s) != 0)
        return core::Internal(StrCat("cannot stat ", path, ": ", std::strerror(errno)));
      if (S_ISDIR(s.st_mode)) {
        dirs.push_back(path);
      } else if (S_ISREG(s.st_mode)) {
        out.push_back({path, static_cast<std::int64_t>(s.st_size), MtimeNs(s)});
      } else {
        return core::InvalidArgument(
            StrCat(path, " is ", S_ISLNK(s.st_mode) ? "a symbolic link" : "not a regular file",
                   "; a dataset holds regular files and directories only"));
      }
    }
    if (ec) return core::Internal(StrCat("cannot list ", root, "/", rel, ": ", ec.message()));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

core::Result<std::string> HashOne(const std::string& path, std::vector<char>& buf,
                                  HashProgress* progress) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return core::Internal(StrCat("cannot open ", path, ": ", std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  core::Sha256 h;
  // Counts `n` more bytes; false when the caller asked to stop.
  auto advance = [progress](std::int64_t n) {
    if (!progress) return true;
    progress->bytes_done += n;
    return !progress->cancel;
  };
  const auto cancelled = [] { return core::Fail(core::ErrorCode::kUnavailable, "hashing was cancelled"); };
  // Big files are hashed straight from the page cache through a mapping
  // (no copy into a buffer: about a third faster); small ones are read.
  struct stat st;
  if (::fstat(fd, &st) == 0 && st.st_size >= (4 << 20)) {
    constexpr std::int64_t kWindow = std::int64_t{64} << 20;
    for (std::int64_t off = 0; off < st.st_size; off += kWindow) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::int64_t>(kWindow, st.st_size - off));
      void* p = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, off);
      if (p == MAP_FAILED) return core::Internal(StrCat("cannot map ", path, ": ", std::strerror(errno)));
      h.Update(p, n);
      ::munmap(p, n);
      if (!advance(static_cast<std::int64_t>(n))) return cancelled();
    }
  } else {
    for (;;) {
      ssize_t got = ::read(fd, buf.data(), buf.size());
      if (got < 0) {
        if (errno == EINTR) continue;
        return core::Internal(StrCat("cannot read ", path, ": ", std::strerror(errno)));
      }
      if (got == 0) break;
      h.Update(buf.data(), static_cast<std::size_t>(got));
      if (!advance(got)) return cancelled();
    }
  }
  if (progress) progress->files_done += 1;
  return core::ToHex(h.Final());
}

// Hashes `files` in place (sha256 filled in) on `threads` threads, the
// biggest files first so that one big file does not finish last alone.
core::Result<void> HashAll(const std::string& root, std::vector<ManifestEntry>& files, int threads,
                           HashProgress* progress) {
  std::vector<std::size_t> order(files.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return files[a].size > files[b].size; });
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::optional<core::Error> first_error;
  auto work = [&] {
    std::vector<char> buf(1 << 20);
    for (;;) {
      std::size_t k = next.fetch_add(1);
      if (k >= order.size()) return;
      ManifestEntry& e = files[order[k]];
      auto d = HashOne(StrCat(root, "/", e.path), buf, progress);
      if (!d) {
        std::lock_guard lock(mu);
        if (!first_error) first_error = d.error();
        next = order.size();
        return;
      }
      e.sha256 = *d;
    }
  };
  threads = std::max(1, std::min<int>(threads, static_cast<int>(files.size())));
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (first_error) return std::unexpected(*first_error);
  return {};
}

core::Result<void> WriteAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return core::Internal(StrCat("cannot write ", tmp));
  }
  int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return core::Internal(StrCat("cannot place ", path, ": ", ec.message()));
  return {};
}

core::Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::NotFound(StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::int64_t Manifest::Bytes() const {
  std::int64_t n = 0;
  for (const auto& f : files) n += f.size;
  return n;
}

std::string Manifest::Text() const {
  std::string out;
  for (const auto& f : files) out += StrCat(f.sha256, "  ", f.path, "\n");
  return out;
}

std::string Manifest::Id() const { return StrCat("sha256:", core::Sha256Hex(Text())); }

std::string Manifest::StatText() const {
  std::string out;
  for (const auto& f : files) out += StrCat(f.size, " ", f.mtime_ns, " ", f.path, "\n");
  return out;
}

core::Result<Manifest> Manifest::Parse(const std::string& manifest_text,
                                       const std::string& stat_text) {
  Manifest m;
  std::istringstream a(manifest_text);
  std::string line;
  while (std::getline(a, line)) {
    if (line.size() < 67 || line.compare(64, 2, "  ") != 0 || !core::DigestFromHex(line.substr(0, 64)))
      return core::InvalidArgument(StrCat("manifest line is damaged: ", core::Quote(line)));
    m.files.push_back({line.substr(66), line.substr(0, 64), 0, 0});
  }
  std::istringstream b(stat_text);
  std::size_t i = 0;
  while (std::getline(b, line)) {
    std::istringstream ls(line);
    std::int64_t size = 0, mtime = 0;
    ls >> size >> mtime;
    std::string path;
    std::getline(ls, path);
    if (!path.empty() && path[0] == ' ') path.erase(0, 1);
    if (i >= m.files.size() || m.files[i].path != path)
      return core::InvalidArgument(StrCat("files.txt does not match the manifest at ", core::Quote(path)));
    m.files[i].size = size;
    m.files[i].mtime_ns = mtime;
    ++i;
  }
  if (i != m.files.size()) return core::InvalidArgument("files.txt is shorter than the manifest");
  return m;
}

core::Result<Manifest> HashDirectory(const std::string& root, int threads, HashProgress* progress) {
  auto listed = List(root);
  if (!listed) return std::unexpected(listed.error());
  Manifest m;
  for (const auto& l : *listed) m.files.push_back({l.path, "", l.size, l.mtime_ns});
  if (progress) {
    progress->files_total = static_cast<std::int64_t>(m.files.size());
    progress->bytes_total = m.Bytes();
  }
  if (auto r = HashAll(root, m.files, threads, progress); !r) return std::unexpected(r.error());
  return m;
}

core::Result<void> CheckUnchanged(const std::string& root, const Manifest& manifest) {
  auto listed = List(root);
  if (!listed)
    return core::Fail(core::ErrorCode::kFailedPrecondition, listed.error().message);
  std::map<std::string, const Listed*> now;
  for (const auto& l : *listed) now[l.path] = &l;
  for (const auto& f : manifest.files) {
    auto it = now.find(f.path);
    if (it == now.end())
      return core::Fail(core::ErrorCode::kFailedPrecondition, StrCat(f.path, " was removed"));
    if (it->second->size != f.size)
      return core::Fail(core::ErrorCode::kFailedPrecondition,
                        StrCat(f.path, ": size ", it->second->size, ", was ", f.size));
    if (it->second->mtime_ns != f.mtime_ns)
      return core::Fail(core::ErrorCode::kFailedPrecondition, StrCat(f.path, " was modified"));
    now.erase(it);
  }
  if (!now.empty())
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat(now.begin()->first, " was added"));
  return {};
}

core::Result<void> VerifyContent(const std::string& root, const Manifest& manifest, int threads,
                                 HashProgress* progress) {
  auto again = HashDirectory(root, threads, progress);
  if (!again) return core::Fail(core::ErrorCode::kFailedPrecondition, again.error().message);
  std::map<std::string, const ManifestEntry*> now;
  for (const auto& f : again->files) now[f.path] = &f;
  for (const auto& f : manifest.files) {
    auto it = now.find(f.path);
    if (it == now.end())
      return core::Fail(core::ErrorCode::kFailedPrecondition, StrCat(f.path, " was removed"));
    if (it->second->sha256 != f.sha256)
      return core::Fail(core::ErrorCode::kFailedPrecondition,
                        StrCat(f.path, ": content changed (SHA-256 ", it->second->sha256.substr(0, 12),
                               ", was ", f.sha256.substr(0, 12), ")"));
    now.erase(it);
  }
  if (!now.empty())
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat(now.begin()->first, " was added"));
  return {};
}

core::Result<void> WriteManifest(const std::string& dir, const Manifest& manifest) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return core::Internal(StrCat("cannot create ", dir, ": ", ec.message()));
  if (auto r = WriteAtomically(dir + "/files.txt", manifest.StatText()); !r) return r;
  return WriteAtomically(dir + "/manifest-sha256.txt", manifest.Text());
}

core::Result<Manifest> ReadManifest(const std::string& dir) {
  auto a = ReadText(dir + "/manifest-sha256.txt");
  if (!a) return std::unexpected(a.error());
  auto b = ReadText(dir + "/files.txt");
  if (!b) return std::unexpected(b.error());
  return Manifest::Parse(*a, *b);
}

}  // namespace sluss::provenance
