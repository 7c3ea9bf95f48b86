// FetchMirror: Repo::Mirror in a sluss-fetch child process, with a deadline.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/strings.h"
#include "gitsync/gitsync.h"
#include "gitsync/internal/spawn.h"

namespace sluss::gitsync {

using core::StrCat;

core::Result<void> FetchMirror(const std::string& helper, const std::string& url,
                               const std::string& path, const Credentials& credentials,
                               std::chrono::milliseconds timeout) {
  // Paths of secrets travel as arguments; the secrets themselves never do.
  std::vector<std::string> argv = {helper, "--url", url, "--mirror", path};
  for (auto [flag, value] : {std::pair{"--username", &credentials.username},
                             std::pair{"--token-file", &credentials.token_file},
                             std::pair{"--ssh-key", &credentials.ssh_key},
                             std::pair{"--known-hosts", &credentials.known_hosts}}) {
    if (!value->empty()) argv.insert(argv.end(), {flag, *value});
  }
  internal::Spawned child = internal::Spawn(argv, "/dev/null");
  if (child.pid < 0) {
    return core::Fail(core::ErrorCode::kUnavailable, StrCat("cannot fetch ", url, ": cannot start ",
                                                            helper, ": ", std::strerror(child.error)));
  }
  const pid_t pid = child.pid;
  const int out = child.out;

  // Read what it says until it closes its end or the time runs out.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string said;
  bool timed_out = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    char buf[4096];
    ssize_t got = ::read(out, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (said.size() < 8192) said.append(buf, static_cast<std::size_t>(got));
  }
  ::close(out);
  if (timed_out) ::kill(pid, SIGKILL);
  const int status = internal::Reap(pid);
  if (timed_out) {
    return core::Fail(core::ErrorCode::kUnavailable,
                      StrCat("cannot fetch ", url, ": timed out after ",
                             std::chrono::duration_cast<std::chrono::seconds>(timeout).count(),
                             " s (git.fetch_timeout)"));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
  if (auto nl = said.rfind('\n'); nl != std::string::npos) said = said.substr(nl + 1);
  if (said.empty())
    said = StrCat("cannot fetch ", url, ": ", helper,
                  WIFSIGNALED(status) ? StrCat(" was killed by signal ", WTERMSIG(status))
                                      : StrCat(" exited with status ", WEXITSTATUS(status)));
  return core::Fail(core::ErrorCode::kUnavailable, said);
}

}  // namespace sluss::gitsync
