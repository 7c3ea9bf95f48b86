#pragma once

// Starting the helper programs gitsync runs (sluss-fetch, ssh-keygen,
// gpgv): an explicit argv, never a shell; stdin from a file; stdout and
// stderr into one pipe for the caller to read; no signals blocked.

#include <sys/types.h>

#include <string>
#include <vector>

namespace sluss::gitsync::internal {

struct Spawned {
  pid_t pid = -1;
  int out = -1;    // read end of the child's stdout and stderr; the caller closes it
  int error = 0;   // errno when it could not start (pid == -1)
};

// argv[0] is looked up in PATH unless it holds a '/'.
Spawned Spawn(const std::vector<std::string>& argv, const std::string& stdin_path);
// Waits for `pid`; its wait status.
int Reap(pid_t pid);

}  // namespace sluss::gitsync::internal
