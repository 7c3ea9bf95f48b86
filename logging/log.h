#pragma once

// One line per event on stderr: "TIME LEVEL message key=value ...".
// Thread-safe (one write(2) per line).

#include <string_view>

namespace sluss::logging {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

void SetLogLevel(LogLevel level);
LogLevel ParseLogLevel(std::string_view name);  // unknown: kInfo
void Log(LogLevel level, std::string_view message);

}  // namespace sluss::logging
