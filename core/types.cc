#include "core/types.h"

#include <algorithm>
#include <array>

#include "core/strings.h"

namespace sluss::core {
namespace {
constexpr std::array<std::string_view, 5> kRunStateNames = {
    "pending", "running", "succeeded", "failed", "cancelled"};
}  // namespace

std::string_view Name(RunState state) {
  return kRunStateNames[static_cast<std::size_t>(state)];
}

std::optional<RunState> ParseRunState(std::string_view name) {
  for (std::size_t i = 0; i < kRunStateNames.size(); ++i) {
    if (kRunStateNames[i] == name) return static_cast<RunState>(i);
  }
  return std::nullopt;
}

RunState DeriveRunState(const std::vector<StatusCode>& job_codes,
                        bool invalid) {
  if (invalid) return RunState::kFailed;
  bool any_running = false, any_pending = false, any_failed = false,
       any_cancelled = false;
  for (StatusCode c : job_codes) {
    switch (StateOf(c)) {
      case JobState::kRunning: any_running = true; break;
      case JobState::kPending: any_pending = true; break;
      case JobState::kFailed: any_failed = true; break;
      case JobState::kCancelled: any_cancelled = true; break;
      case JobState::kSucceeded: break;
    }
  }
  if (any_running) return RunState::kRunning;
  if (any_pending) {
    // Some jobs have ended: the run is under way even if nothing runs now.
    bool any_ended = job_codes.size() > 0 &&
                     std::any_of(job_codes.begin(), job_codes.end(),
                                 [](StatusCode c) { return IsTerminal(c); });
    return any_ended ? RunState::kRunning : RunState::kPending;
  }
  if (any_failed) return RunState::kFailed;
  if (any_cancelled) return RunState::kCancelled;
  return RunState::kSucceeded;
}

}  // namespace sluss::core

namespace sluss::core {
namespace {
constexpr std::array<std::string_view, kRoleCount> kRoleNames = {
    "researcher", "steward", "admin", "checker", "auditor", "hook"};
}  // namespace

std::string_view Name(Role role) { return kRoleNames[static_cast<std::size_t>(role)]; }

std::optional<Role> ParseRole(std::string_view name) {
  for (std::size_t i = 0; i < kRoleNames.size(); ++i) {
    if (kRoleNames[i] == name) return static_cast<Role>(i);
  }
  return std::nullopt;
}

Result<void> CheckProjectName(std::string_view name) {
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (name.empty() || name.size() > 63 || !ok(name[0]) ||
      !std::all_of(name.begin(), name.end(),
                   [&](char c) { return ok(c) || c == '-'; })) {
    return InvalidArgument(
        StrCat("project name ", Quote(name),
               " must be 1-63 lower-case letters, digits and '-', starting "
               "with a letter or digit"),
        "name");
  }
  return {};
}
}  // namespace sluss::core
