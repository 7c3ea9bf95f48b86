#include "api/git_http.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include <zlib.h>

#include "core/strings.h"
#include "core/types.h"

extern char** environ;

namespace sluss::api {

using core::StrCat;

bool IsGitPath(std::string_view path) { return path.starts_with("/git/"); }

std::optional<GitPath> ParseGitPath(std::string_view method, std::string_view path,
                                    const std::map<std::string, std::string>& query) {
  if (!IsGitPath(path)) return std::nullopt;
  std::string_view rest = path.substr(5);
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view repo = rest.substr(0, slash);
  std::string_view tail = rest.substr(slash + 1);
  if (repo.ends_with(".git")) repo.remove_suffix(4);
  if (!core::CheckProjectName(repo)) return std::nullopt;
  GitPath out;
  out.project = std::string(repo);
  out.path_info = StrCat("/", repo, ".git/", tail);
  if (tail == "info/refs" && method == "GET") {
    auto s = query.find("service");
    if (s == query.end()) return std::nullopt;  // the dumb protocol
    out.service = s->second;
  } else if (method == "POST" && (tail == "git-upload-pack" || tail == "git-receive-pack")) {
    out.service = std::string(tail);
  } else {
    return std::nullopt;
  }
  if (out.service != "git-upload-pack" && out.service != "git-receive-pack") return std::nullopt;
  out.push = out.service == "git-receive-pack";
  return out;
}

namespace {

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  std::string out;
  unsigned bits = 0;
  int n = 0;
  for (char c : in) {
    if (c == '=') break;
    const int v = Base64Value(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<unsigned>(v);
    n += 6;
    if (n >= 8) {
      n -= 8;
      out.push_back(static_cast<char>((bits >> n) & 0xff));
    }
  }
  return out;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  }
  return true;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

std::string GitCredential(std::string_view authorization) {
  if (StartsWithNoCase(authorization, "Bearer ")) return Trim(authorization.substr(7));
  if (StartsWithNoCase(authorization, "Basic ")) {
    auto decoded = Base64Decode(Trim(authorization.substr(6)));
    if (!decoded) return "";
    const auto colon = decoded->find(':');
    return colon == std::string::npos ? "" : decoded->substr(colon + 1);
  }
  return "";
}

GitBackend::~GitBackend() {
  if (out_ >= 0) ::close(out_);
  if (!refusal_file_.empty()) ::unlink(refusal_file_.c_str());
  if (pid_ > 0) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == 0) {
      // Still running: the client went away, or it ran past its deadline.
      // Its receive-pack and hooks are in its process group; a push cut
      // off here never leaves the quarantine.
      ::kill(-pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
}

std::optional<std::string> GitBackend::Next() {
  if (out_ < 0) return std::nullopt;
  if (std::chrono::steady_clock::now() > deadline_) {
    ::close(out_);
    out_ = -1;
    return std::nullopt;  // the destructor kills it
  }
  std::string buf(64 * 1024, '\0');
  const ssize_t n = ::read(out_, buf.data(), buf.size());
  if (n > 0) {
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return std::string();
  ::close(out_);
  out_ = -1;
  ReportRefusal();
  return std::nullopt;
}

void GitBackend::ReportRefusal() {
  if (refusal_file_.empty()) return;
  std::string reason;
  if (const int fd = ::open(refusal_file_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW); fd >= 0) {
    char buf[4096];
    ssize_t n = 0;
    // The hook's lines, bounded: what an audit record may carry.
    while (reason.size() < 4096 && (n = ::read(fd, buf, sizeof buf)) > 0)
      reason.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
  }
  ::unlink(refusal_file_.c_str());
  refusal_file_.clear();
  if (reason.size() > 4096) reason.resize(4096);
  while (!reason.empty() && (reason.back() == '\n' || reason.back() == '\r')) reason.pop_back();
  if (!reason.empty() && on_refused_) on_refused_(std::move(reason));
}

namespace {

// Reads the CGI header ("Status: 200 OK", "Content-Type: ...", a blank
// line) from `fd` until `deadline`; what follows it goes to *rest.
core::Result<HttpResponse> ReadCgiHeader(int fd, std::chrono::steady_clock::time_point deadline,
                                         std::string* rest) {
  std::string data;
  std::size_t end = std::string::npos;
  std::size_t sep = 0;
  while (true) {
    if (auto p = data.find("\r\n\r\n"); p != std::string::npos) {
      end = p;
      sep = 4;
    } else if (auto q = data.find("\n\n"); q != std::string::npos) {
      end = q;
      sep = 2;
    }
    if (end != std::string::npos) break;
    if (data.size() > 64 * 1024) return core::Internal("git http-backend: header too long");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return core::Internal("git http-backend wrote no header in time");
    pollfd pfd{fd, POLLIN, 0};
    const int r = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r < 0 && errno != EINTR) return core::Internal(StrCat("poll: ", std::strerror(errno)));
    if (r <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return core::Internal("git http-backend ended before its header");
    data.append(buf, static_cast<std::size_t>(n));
  }
  HttpResponse resp;
  resp.content_type = "text/plain";
  std::string_view head(data.data(), end);
  while (!head.empty()) {
    auto nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head = nl == std::string_view::npos ? std::string_view() : head.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const std::string value = Trim(line.substr(colon + 1));
    if (name == "status") {
      resp.status = std::atoi(value.c_str());
      if (resp.status < 100 || resp.status > 599) resp.status = 500;
    } else if (name == "content-type") {
      resp.content_type = value;
    } else if (name == "expires" || name == "pragma" || name == "content-encoding") {
      resp.headers.emplace_back(name, value);
    }
    // Cache-Control is the server's own (no-store); Content-Length is
    // replaced by chunked encoding.
  }
  *rest = data.substr(end + sep);
  return resp;
}

HttpResponse PlainAnswer(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

// A gzip-encoded body inflated into an unlinked temporary file in
// `spool_dir`, at most `cap` bytes: git http-backend would inflate it
// without a bound (receive-pack and upload-pack keep every command and
// `have` line in memory: a 1 MB body of repeated lines grew upload-pack to
// 471 MB), so slussd inflates it and the limits count what git reads.
// Returns the new descriptor, or -1 with *over set when over `cap`, or -1
// with *error set. Takes over `fd`.
int InflateBody(int fd, std::uint64_t cap, const std::string& spool_dir, bool* over,
                std::string* error) {
  std::string path = (spool_dir.empty() ? std::string("/tmp") : spool_dir) + "/git-inflated-XXXXXX";
  const int out = ::mkostemp(path.data(), O_CLOEXEC);
  if (out < 0) {
    *error = StrCat("cannot spool the inflated body: ", std::strerror(errno));
    ::close(fd);
    return -1;
  }
  ::unlink(path.c_str());
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
    *error = "zlib: inflateInit2 failed";
    ::close(fd);
    ::close(out);
    return -1;
  }
  std::vector<unsigned char> in(64 << 10), buf(256 << 10);
  std::uint64_t written = 0;
  int zrc = Z_OK;
  bool bad = false;
  while (zrc != Z_STREAM_END && !bad && !*over) {
    const ssize_t n = ::read(fd, in.data(), in.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      bad = true;  // ends before the gzip stream does
      break;
    }
    z.next_in = in.data();
    z.avail_in = static_cast<uInt>(n);
    while (z.avail_in > 0 && zrc != Z_STREAM_END) {
      z.next_out = buf.data();
      z.avail_out = static_cast<uInt>(buf.size());
      zrc = inflate(&z, Z_NO_FLUSH);
      if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR) {
        bad = true;
        break;
      }
      const std::size_t got = buf.size() - z.avail_out;
      written += got;
      if (written > cap) {
        *over = true;
        break;
      }
      if (got > 0 && ::write(out, buf.data(), got) != static_cast<ssize_t>(got)) {
        *error = StrCat("cannot spool the inflated body: ", std::strerror(errno));
        bad = true;
        break;
      }
      if (zrc == Z_BUF_ERROR && got == 0) break;  // needs more input
    }
  }
  inflateEnd(&z);
  ::close(fd);
  if (bad || *over) {
    if (bad && error->empty()) *error = "the request body is not valid gzip";
    ::close(out);
    return -1;
  }
  ::lseek(out, 0, SEEK_SET);
  return out;
}

}  // namespace

core::Result<HttpResponse> RunGitBackend(const GitHttpOptions& options, const GitAccess& access,
                                         const HttpRequest& head, int body_fd,
                                         std::uint64_t body_bytes,
                                         std::function<void(std::string)> on_refused) {
  // Bodies reach git as sent, or inflated here with the same limits.
  if (auto e = head.Header("content-encoding"); !e.empty() && e != "identity") {
    if (e != "gzip" && e != "x-gzip") {
      ::close(body_fd);
      return PlainAnswer(415, StrCat("sluss: request bodies may be sent plain or gzipped, not ",
                                     e, "\n"));
    }
    const std::uint64_t cap =
        access.path.push ? options.max_push_bytes : options.max_fetch_request_bytes;
    bool over = false;
    std::string error;
    body_fd = InflateBody(body_fd, cap, options.spool_dir, &over, &error);
    if (body_fd < 0 && over) {
      return PlainAnswer(413, StrCat("sluss: the request, inflated, is larger than ", cap,
                                     " bytes, the most one ",
                                     access.path.push ? "push (git.max_push)" : "fetch request",
                                     " may carry here\n"));
    }
    if (body_fd < 0) return PlainAnswer(400, StrCat("sluss: ", error, "\n"));
    struct stat st {};
    body_bytes = ::fstat(body_fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  }
  std::vector<std::string> env;
  for (const char* name : {"PATH", "HOME", "LANG", "TZ"}) {
    if (const char* v = std::getenv(name)) env.push_back(StrCat(name, "=", v));
  }
  env.push_back(StrCat("GIT_PROJECT_ROOT=", options.repos_dir));
  env.push_back("GIT_HTTP_EXPORT_ALL=1");
  env.push_back(StrCat("PATH_INFO=", access.path.path_info));
  env.push_back(StrCat("REQUEST_METHOD=", head.method));
  env.push_back(StrCat("QUERY_STRING=", head.method == "POST"
                                            ? std::string()
                                            : StrCat("service=", access.path.service)));
  env.push_back(StrCat("REMOTE_USER=", access.person));
  env.push_back(StrCat("REMOTE_ADDR=", head.remote));
  env.push_back(StrCat("CONTENT_TYPE=", head.Header("content-type")));
  if (head.method == "POST") env.push_back(StrCat("CONTENT_LENGTH=", body_bytes));
  // git clients gzip large requests (a fetch's haves): inflated above,
  // so http-backend is given no HTTP_CONTENT_ENCODING.
  // Protocol v2 for fetches: the client asks in this header.
  if (auto p = head.Header("git-protocol"); !p.empty()) env.push_back(StrCat("GIT_PROTOCOL=", p));
  // The push's limit, in git's own words when a pack is over it.
  env.push_back("GIT_CONFIG_COUNT=1");
  env.push_back("GIT_CONFIG_KEY_0=receive.maxInputSize");
  env.push_back(StrCat("GIT_CONFIG_VALUE_0=", options.max_push_bytes));
  // Who pushes: the pre-receive hook records it with each pushed ref, and
  // the run is theirs (intake/git_intake.cc).
  env.push_back(StrCat("SLUSS_PUSHER=", access.person));
  env.push_back(StrCat("SLUSS_PUSH_KEY=", options.push_key));
  env.push_back("SLUSS_PUSH_VIA=https");
  // Where the pre-receive hook says why it refused a push: slussd audits
  // it (git.denied), as it does its own refusals. An empty file of
  // slussd's, 0600; the hook only appends to a file that exists.
  std::string refusal_file;
  if (access.path.push && head.method == "POST") {
    refusal_file = (options.spool_dir.empty() ? std::string("/tmp") : options.spool_dir) +
                   "/git-refusal-XXXXXX";
    const int fd = ::mkostemp(refusal_file.data(), O_CLOEXEC);
    if (fd < 0) {
      ::close(body_fd);
      return core::Internal(StrCat("cannot make the hook's refusal file: ", std::strerror(errno)));
    }
    ::close(fd);
    env.push_back(StrCat("SLUSS_REFUSAL_FILE=", refusal_file));
  }

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(body_fd);
    if (!refusal_file.empty()) ::unlink(refusal_file.c_str());
    return core::Internal(StrCat("pipe: ", std::strerror(errno)));
  }
  std::vector<std::string> argv = {options.git, "http-backend"};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, body_fd, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGHUP);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  // Its own process group, so that receive-pack and the hooks go with it.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(body_fd);
  if (rc != 0) {
    ::close(out[0]);
    if (!refusal_file.empty()) ::unlink(refusal_file.c_str());
    return core::Internal(StrCat("cannot run ", options.git, " http-backend: ", std::strerror(rc)));
  }
  ::fcntl(out[0], F_SETFL, ::fcntl(out[0], F_GETFL) | O_NONBLOCK);
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  auto backend = std::make_shared<GitBackend>(pid, out[0], deadline, std::move(refusal_file),
                                              std::move(on_refused));
  std::string rest;
  auto resp = ReadCgiHeader(out[0], deadline, &rest);
  if (!resp) return std::unexpected(resp.error());  // `backend` kills it
  resp->body = std::move(rest);
  resp->next = [backend] { return backend->Next(); };
  return resp;
}

}  // namespace sluss::api
