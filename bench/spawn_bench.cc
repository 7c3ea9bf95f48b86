// What starting a job's supervisor costs slussd's CPU, as its memory grows:
// StartDetached (posix_spawn) against the fork-based start it replaced
// (fork, setsid, fork, exec), both exec'ing /bin/true as the "supervisor",
// from a process holding MB megabytes of touched heap (slussd held 973 MB
// with 60,000 jobs queued). CPU is this process's own (user + system, the
// kernel's copying of page tables at fork included); the children's is
// not counted.
//
//   build/bench/spawn_bench [MB] [LAUNCHES]     defaults 1000, 200
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "sandbox/supervisor.h"

namespace {

double CpuMs() {
  rusage u;
  ::getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

// The start slussd used before posix_spawn (StartDetached until this
// benchmark was added), with /bin/true for sluss-run.
void ForkStart() {
  pid_t child = ::fork();
  if (child == 0) {
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    const char* argv[] = {"/bin/true", nullptr};
    ::execv(argv[0], const_cast<char* const*>(argv));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
}

}  // namespace

int main(int argc, char** argv) {
  const long mb = argc > 1 ? std::atol(argv[1]) : 1000;
  const int n = argc > 2 ? std::atoi(argv[2]) : 200;
  std::vector<char> heap(static_cast<std::size_t>(mb) << 20);
  for (std::size_t i = 0; i < heap.size(); i += 4096) heap[i] = 1;  // resident
  char tmpl[] = "/tmp/sluss-spawn-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) return 1;
  const std::string dir = tmpl;
  double t0 = CpuMs();
  for (int i = 0; i < n; ++i) ForkStart();
  const double fork_ms = (CpuMs() - t0) / n;
  t0 = CpuMs();
  for (int i = 0; i < n; ++i) {
    // /bin/true writes no pid or result: the directory stays "new".
    auto r = sluss::sandbox::StartDetached("/bin/true", dir);
    if (!r) {
      std::fprintf(stderr, "StartDetached: %s\n", r.error().message.c_str());
      return 1;
    }
  }
  const double spawn_ms = (CpuMs() - t0) / n;
  std::filesystem::remove_all(dir);
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  std::printf("heap %ld MB, %d launches each\n", mb, n);
  std::printf("fork, setsid, fork, exec (before): %.3f ms of CPU per launch\n", fork_ms);
  std::printf("posix_spawn, supervise --detach (now): %.3f ms of CPU per launch\n", spawn_ms);
  std::printf("summary: slussd CPU per launch, %ld MB heap; %.3f ms; fork; %.3f ms; %.1fx less\n",
              mb, spawn_ms, fork_ms, spawn_ms > 0 ? fork_ms / spawn_ms : 0);
  return 0;
}
