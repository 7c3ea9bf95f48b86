#pragma once

// Hosted repositories over git's smart HTTP protocol, at
// /git/<project>.git/... on the API's listener. The protocol itself is
// git's own: slussd runs `git http-backend` as a CGI program for each
// request that Api::AuthorizeGit let through, its stdin the request body
// (spooled to a file by the server), its stdout streamed back as the
// response. Only the smart protocol's three paths are served (info/refs
// with a service, git-upload-pack, git-receive-pack); the dumb protocol,
// which reads objects by path, is not.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "api/http.h"
#include "core/error.h"

namespace sluss::api {

struct GitHttpOptions {
  // GIT_PROJECT_ROOT: the hosted repositories, <project>.git each. Empty:
  // /git/ is not served (404).
  std::string repos_dir;
  std::string git = "git";
  // The most one push (the request body, after chunked decoding) may
  // carry; git.max_push. Larger: 413 with the limit named. receive-pack is
  // told too (receive.maxInputSize), so that a pack over it is refused
  // with git's own reason, which the pusher sees.
  std::uint64_t max_push_bytes = std::uint64_t{100} << 20;
  // A fetch's negotiation (its wants and haves) may be at most this.
  std::uint64_t max_fetch_request_bytes = std::uint64_t{16} << 20;
  // git http-backends running at once; more requests: 503.
  std::size_t max_backends = 16;
  // ... of which one person may hold at most this many.
  std::size_t max_backends_per_person = 4;
  // A request's body must arrive within this; a backend (with its hooks)
  // that runs longer is killed.
  std::chrono::seconds timeout{600};
  // Where request bodies are spooled (0600 files, removed once the
  // backend has them open).
  std::string spool_dir;
  // Passed to the backend as SLUSS_PUSH_KEY: the pre-receive hook believes
  // SLUSS_PUSHER only with it (api/git_http.cc).
  std::string push_key;
};

// A request under /git/, taken apart.
struct GitPath {
  std::string project;
  std::string path_info;  // "/p1.git/info/refs": PATH_INFO for the backend
  std::string service;    // "git-upload-pack" or "git-receive-pack"
  bool push = false;      // service is git-receive-pack
};

// Whether `path` is under /git/ at all.
bool IsGitPath(std::string_view path);
// The smart-HTTP request at `method` `path` with `query`, or nullopt for
// anything else under /git/ (the dumb protocol, unknown paths).
std::optional<GitPath> ParseGitPath(std::string_view method, std::string_view path,
                                    const std::map<std::string, std::string>& query);

// The token a git client sent: HTTP Basic's password (any user name), or
// a bearer token. Empty when the header carries neither.
std::string GitCredential(std::string_view authorization);

// What Api::AuthorizeGit let through.
struct GitAccess {
  GitPath path;
  std::string person;  // the token's user
};

// One running `git http-backend` and its response so far. Not copyable;
// destroying it kills the backend's process group (its receive-pack and
// hooks) if it still runs, and reaps it.
class GitBackend {
 public:
  // `refusal_file` (may be empty): where a push's pre-receive hook writes
  // why it refused the push; read, handed to `on_refused` and removed when
  // the backend's output ends.
  GitBackend(pid_t pid, int out, std::chrono::steady_clock::time_point deadline,
             std::string refusal_file = {}, std::function<void(std::string reason)> on_refused = {})
      : pid_(pid),
        out_(out),
        deadline_(deadline),
        refusal_file_(std::move(refusal_file)),
        on_refused_(std::move(on_refused)) {}
  ~GitBackend();
  GitBackend(const GitBackend&) = delete;
  GitBackend& operator=(const GitBackend&) = delete;

  // More of the body: bytes; "" when nothing is there yet; nullopt at the
  // end (or past the deadline, when the backend is killed). Never blocks.
  std::optional<std::string> Next();

 private:
  // Hands what the hook wrote to refusal_file_ to on_refused_, once.
  void ReportRefusal();

  pid_t pid_;
  int out_;
  std::chrono::steady_clock::time_point deadline_;
  std::string refusal_file_;
  std::function<void(std::string)> on_refused_;
};

// Starts git http-backend for `access` with `body_fd` as its stdin (taken
// over: closed here) holding `body_bytes` bytes, waits for its CGI header
// (up to options.timeout) and returns the response: the status and headers
// from that header, then the body as the backend writes it (through
// HttpResponse::next, which never blocks). `head` is the request without
// its body. A push that the pre-receive hook refuses (sluss-fetch
// --check-push writes its reason to $SLUSS_REFUSAL_FILE) calls
// `on_refused` with the reason, from the call of `next` that sees the
// backend's end. Blocks: call it on a thread that may wait.
core::Result<HttpResponse> RunGitBackend(const GitHttpOptions& options, const GitAccess& access,
                                         const HttpRequest& head, int body_fd,
                                         std::uint64_t body_bytes,
                                         std::function<void(std::string reason)> on_refused = {});

}  // namespace sluss::api
