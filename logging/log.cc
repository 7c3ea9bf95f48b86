#include "logging/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include "core/strings.h"
#include "core/time.h"

namespace sluss::logging {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};
constexpr std::string_view kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
}  // namespace

void SetLogLevel(LogLevel level) { g_level = level; }

LogLevel ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

void Log(LogLevel level, std::string_view message) {
  if (level < g_level.load()) return;
  std::string line = core::StrCat(core::FormatRfc3339(core::SystemClock().Now()), " ",
                                  kNames[static_cast<int>(level)], " ", message, "\n");
  (void)!write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace sluss::logging
