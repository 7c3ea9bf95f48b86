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

#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

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

int CheckPush() {
  auto repo = sluss::gitsync::Repo::OpenFromHookEnvironment();
  if (!repo) {
    std::fprintf(stderr, "sluss: %s\n", repo.error().message.c_str());
    return 1;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string old_sha, new_sha, ref;
    if (!(in >> old_sha >> new_sha >> ref)) continue;
    if (auto r = (*repo)->CheckPushedCommits(old_sha, new_sha); !r) {
      std::fprintf(stderr, "sluss: push to %s refused: %s\n", ref.c_str(), r.error().message.c_str());
      return 1;
    }
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
