// sluss-fetch: fetches one remote into its bare mirror, for slussd, which
// runs it with a deadline (gitsync::FetchMirror). Prints nothing on success;
// on failure, one line saying why, and exits 1. Usage errors exit 2.
//
//   sluss-fetch --url URL --mirror PATH [--username U] [--token-file F]
//               [--ssh-key F] [--known-hosts F]
//
// Also the hosted repositories' pre-receive hook: `sluss-fetch --check-push`
// reads git's "OLD NEW REF" lines on stdin and refuses the push (exit 1,
// the reason on stderr, which the pusher sees) when a pushed commit's tree
// has an entry whose name could leave a workspace (gitsync::BadTreeEntryName).
// The reason also goes to $SLUSS_REFUSAL_FILE when slussd names one (a
// push over HTTPS): slussd audits the refusal (git.denied).

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gitsync/gitsync.h"

// libgit2 1.5 leaves a PCRE2 match block allocated on each regex search it
// makes while setting up a remote (12 small blocks per fetch), and its SSH
// transport a known-hosts list and a few bytes more. Harmless in a process
// that lives for one fetch, but LeakSanitizer (the ASan test build) would
// fail the fetch for them; leaks allocated from our own code are still
// reported.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libpcre2-8.so\nleak:libssh2.so\nleak:libgit2.so\n";
}
// Quietly: slussd reads this program's last line as its error.
extern "C" const char* __lsan_default_options() { return "print_suppressions=0"; }

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Who pushes: the person slussd authenticated (SLUSS_PUSHER, believed
// only with slussd's key for this start, which the file beside hook.env
// holds for slussd's user alone), else the site's local identity for
// pushes over the file path (git.local_pusher), else no one: refused.
bool Pusher(std::string* pusher, std::string* via) {
  const std::string key = Env("SLUSS_PUSH_KEY");
  const std::string key_file = Env("SLUSS_PUSH_KEY_FILE");
  if (!key.empty() && !key_file.empty() && !Env("SLUSS_PUSHER").empty()) {
    std::ifstream in(key_file);
    std::string expected;
    std::getline(in, expected);
    if (!expected.empty() && expected == key) {
      *pusher = Env("SLUSS_PUSHER");
      *via = "https";
      return true;
    }
  }
  if (!Env("SLUSS_LOCAL_PUSHER").empty()) {
    *pusher = Env("SLUSS_LOCAL_PUSHER");
    *via = "local";
    return true;
  }
  return false;
}

// Refuses the push: `why` to the pusher (stderr) and to slussd's refusal
// file, which slussd made and audits; one that does not exist is not made.
int Refuse(const std::string& why) {
  std::fprintf(stderr, "sluss: %s\n", why.c_str());
  if (const std::string file = Env("SLUSS_REFUSAL_FILE"); !file.empty()) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      const std::string line = why + "\n";
      (void)!::write(fd, line.data(), line.size());
      ::close(fd);
    }
  }
  return 1;
}

int CheckPush() {
  auto repo = sluss::gitsync::Repo::OpenFromHookEnvironment();
  if (!repo) return Refuse(repo.error().message);
  std::string pusher, via;
  if (!Pusher(&pusher, &via)) {
    return Refuse(
        "push refused: pushes over the file path are not credited to anyone here. Push over "
        "HTTPS with your sluss token (the clone URL is in 'sluss project show PROJECT'), or an "
        "admin sets git.local_pusher in slussd's config");
  }
  // The default branch (HEAD's), which runs are made from where a project
  // names no branches, is fixed as on a forge: set by the first push to an
  // empty repository, never deleted by a push (another branch would not
  // silently take its place).
  auto branches = (*repo)->Branches();
  auto default_branch = (*repo)->DefaultBranch();
  if (!branches) return Refuse(branches.error().message);
  if (!default_branch) return Refuse(default_branch.error().message);
  std::vector<sluss::gitsync::PushRecord> records;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string old_sha, new_sha, ref;
    if (!(in >> old_sha >> new_sha >> ref)) continue;
    if (ref == *default_branch && new_sha.find_first_not_of('0') == std::string::npos) {
      return Refuse("push refused: " + ref.substr(11) +
                    " is this repository's default branch, from which runs are made, and "
                    "cannot be deleted; push to it instead, or have an admin track other "
                    "branches ('sluss project set PROJECT --branches ...')");
    }
    if (auto r = (*repo)->CheckPushedCommits(old_sha, new_sha); !r)
      return Refuse("push to " + ref + " refused: " + r.error().message);
    if (new_sha.find_first_not_of('0') != std::string::npos)
      records.push_back({ref, new_sha, pusher, via});
  }
  // The first branch pushed to an empty repository becomes its default
  // when HEAD's is not among those pushed (a "master" pushed to a
  // repository made with "main").
  if (branches->empty()) {
    const bool has_default = std::any_of(records.begin(), records.end(),
                                         [&](const auto& r) { return r.ref == *default_branch; });
    auto first = std::find_if(records.begin(), records.end(),
                              [](const auto& r) { return r.ref.starts_with("refs/heads/"); });
    if (!has_default && first != records.end()) {
      if (auto r = (*repo)->SetDefaultBranch(first->ref); !r)
        return Refuse("push refused: " + r.error().message);
    }
  }
  // Before git updates the refs: the intake never sees a tip without its
  // pusher.
  const std::string git_dir = Env("GIT_DIR").empty() ? "." : Env("GIT_DIR");
  for (const auto& r : records) {
    if (auto w = sluss::gitsync::WritePushRecord(git_dir, r); !w)
      return Refuse("push refused: " + w.error().message);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--check-push") return CheckPush();
  std::map<std::string, std::string> flags;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (!flag.starts_with("--") || i + 1 >= argc) {
      std::fprintf(stderr, "sluss-fetch: usage: --url URL --mirror PATH [--username U] "
                           "[--token-file F] [--ssh-key F] [--known-hosts F]\n");
      return 2;
    }
    flags[flag.substr(2)] = argv[++i];
  }
  for (const auto& [name, value] : flags) {
    if (name != "url" && name != "mirror" && name != "username" && name != "token-file" &&
        name != "ssh-key" && name != "known-hosts") {
      std::fprintf(stderr, "sluss-fetch: unknown flag --%s\n", name.c_str());
      return 2;
    }
  }
  if (flags["url"].empty() || flags["mirror"].empty()) {
    std::fprintf(stderr, "sluss-fetch: --url and --mirror are required\n");
    return 2;
  }
  sluss::gitsync::Credentials c{flags["username"], flags["token-file"], flags["ssh-key"],
                                flags["known-hosts"]};
  auto r = sluss::gitsync::Repo::Mirror(flags["url"], flags["mirror"], c);
  if (!r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  return 0;
}
