#pragma once

// The sluss commands that talk to slussd.

#include <iosfwd>
#include <string>
#include <vector>

namespace sluss::cli {

// Exit codes that scripts can rely on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotFound = 3;
inline constexpr int kExitDenied = 4;

// True when `command` is one of the server commands.
bool IsServerCommand(const std::string& command);

// Runs a server command; `args` are the words after it, global flags
// (--server, --token, --json) included anywhere.
int RunServerCommand(const std::string& command, std::vector<std::string> args,
                     std::ostream& out, std::ostream& err);

}  // namespace sluss::cli
