#pragma once

#include "core/time.h"

namespace sluss::testing {

// A clock that moves only when the test says so.
class ManualClock final : public core::Clock {
 public:
  explicit ManualClock(core::TimePoint start = core::FromUnixMillis(1'790'000'000'000))
      : now_(start) {}
  core::TimePoint Now() const override { return now_; }
  void Advance(std::chrono::milliseconds d) { now_ += d; }

 private:
  core::TimePoint now_;
};

}  // namespace sluss::testing
