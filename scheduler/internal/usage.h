// The engine's small shared pieces of usage keeping: stored settings read
// as JSON, and fair-share usage decayed with its half-life.
#pragma once

#include <chrono>
#include <cmath>
#include <ratio>
#include <string>

#include <nlohmann/json.hpp>

#include "core/time.h"

namespace sluss::scheduler::internal {

constexpr double kHalfLifeHours = 7 * 24;

inline nlohmann::json ParseOr(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

inline double Decay(double usage, core::TimePoint from, core::TimePoint to) {
  double hours = std::chrono::duration<double, std::ratio<3600>>(to - from).count();
  return hours <= 0 ? usage : usage * std::exp2(-hours / kHalfLifeHours);
}

}  // namespace sluss::scheduler::internal
