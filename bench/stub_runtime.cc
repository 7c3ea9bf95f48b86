// A stand-in for an OCI runtime, for bench/sandbox_own.sh: it answers
// `--version`, and for anything else writes the pid file it is given and
// exits 0, as `runc run` of a job that did nothing would, in about a
// millisecond. What sluss-run then costs is sluss-run's own.
#include <unistd.h>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") == 0) {
      std::puts("stub-runtime version 1.0");
      return 0;
    }
    if (std::strcmp(argv[i], "--pid-file") == 0 && i + 1 < argc) {
      std::FILE* f = std::fopen(argv[i + 1], "w");
      if (f == nullptr) return 1;
      std::fprintf(f, "%d", static_cast<int>(::getpid()));
      std::fclose(f);
    }
  }
  return 0;
}
