// sluss auth setup-git | sluss auth git-credential: git's credential
// helper answers with the sluss token for slussd's URL, as `gh auth
// setup-git` does for GitHub, so that `git push` over HTTPS needs no token
// typed and none is stored in a remote's URL.

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cli/internal/session.h"

extern char** environ;

namespace sluss::cli {

namespace {

int RunGit(const std::vector<std::string>& argv, std::ostream& err) {
  std::vector<std::string> copy = argv;
  std::vector<char*> args;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  if (int rc = ::posix_spawnp(&pid, "git", nullptr, nullptr, args.data(), environ); rc != 0) {
    err << "sluss: cannot run git: " << std::strerror(rc) << "\n";
    return -1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// This program's own path, so that git finds it whatever its PATH.
std::string SelfPath() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "sluss";
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace

int RunAuthCommand(const Args& a, const Settings& settings, std::ostream& out,
                   std::ostream& err) {
  const std::string verb = a.positional.empty() ? "" : a.positional[0];
  if (verb == "setup-git") {
    if (settings.server.find('\n') != std::string::npos) {
      err << "sluss: the server URL holds a newline\n";
      return kExitUsage;
    }
    // git calls every helper configured for a URL in turn: an empty value
    // first clears the ones before (a global store), as gh does.
    const std::string key = StrCat("credential.", settings.server, ".helper");
    const std::string helper = StrCat("!", ShellQuote(SelfPath()), " auth git-credential");
    if (RunGit({"git", "config", "--global", "--replace-all", key, ""}, err) != 0 ||
        RunGit({"git", "config", "--global", "--add", key, helper}, err) != 0) {
      err << "sluss: git config failed\n";
      return kExitError;
    }
    out << "git now answers " << settings.server
        << " with your sluss token (from SLUSS_TOKEN or ~/.config/sluss/config):\n"
        << "  " << key << " = " << helper << "\n"
        << "clone a project with:  git clone " << settings.server << "/git/PROJECT.git\n";
    return kExitOk;
  }
  if (verb == "git-credential") {
    // git's credential protocol: `get` reads key=value lines and answers
    // with a username and password; `store` and `erase` have nothing to do
    // (the token lives in sluss's own settings).
    const std::string op = a.positional.size() > 1 ? a.positional[1] : "";
    std::string line;
    while (std::getline(std::cin, line) && !line.empty()) {
    }
    if (op != "get") return kExitOk;
    if (settings.token.empty()) {
      err << "sluss: no token: set SLUSS_TOKEN, or token: in ~/.config/sluss/config\n";
      return kExitOk;  // git goes on to ask
    }
    out << "username=sluss\npassword=" << settings.token << "\n";
    return kExitOk;
  }
  err << "usage: sluss auth setup-git [--server URL] | sluss auth git-credential get\n";
  return kExitUsage;
}

}  // namespace sluss::cli
