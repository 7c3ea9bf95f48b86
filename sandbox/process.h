#pragma once

// Running helper programs (the OCI runtime, mkfs, mount) from sluss-run:
// fork and exec with an explicit argv (never a shell), wait for that child
// only, capture what it prints (bounded).

#include <string>
#include <vector>

namespace sluss::sandbox {

struct CommandResult {
  int status = -1;     // exit code, or 128 + signal, or -1 when not started
  std::string output;  // stdout and stderr, the first 64 KiB
  bool ok() const { return status == 0; }
  // The last non-empty line of the output: the runtime's error message.
  std::string LastLine() const;
};

// Runs argv[0] (looked up in PATH) with stdin from /dev/null. When
// `stdout_fd`/`stderr_fd` are >= 0 the child writes there and nothing is
// captured from that stream.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         int stdout_fd = -1, int stderr_fd = -1);

// Starts argv[0] (looked up in PATH) in the background, its output to
// `stdout_fd`/`stderr_fd`, or /dev/null where < 0; -1 when it could not
// start. WaitCommand reaps it and returns its status as
// CommandResult::status.
int StartCommand(const std::vector<std::string>& argv, int stdout_fd = -1,
                 int stderr_fd = -1);
int WaitCommand(int pid);

}  // namespace sluss::sandbox
