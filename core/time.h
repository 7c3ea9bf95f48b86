#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluss::core {

// Wall-clock time, millisecond precision: what is stored and printed.
using TimePoint = std::chrono::sys_time<std::chrono::milliseconds>;

inline std::int64_t ToUnixMillis(TimePoint t) {
  return t.time_since_epoch().count();
}
inline TimePoint FromUnixMillis(std::int64_t ms) {
  return TimePoint(std::chrono::milliseconds(ms));
}

// RFC 3339 in UTC: "2026-11-28T16:17:39.123Z".
std::string FormatRfc3339(TimePoint t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)".
std::optional<TimePoint> ParseRfc3339(std::string_view text);

// The time seam. Production code reads time only through a Clock, so tests
// can drive it (ManualClock in tests/support).
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  }
};

}  // namespace sluss::core
