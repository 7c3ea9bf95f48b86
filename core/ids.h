#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace sluss::core {

// A typed integer id, so a JobId cannot be passed where a RunId is meant.
// Ids are assigned by the store, start at 1, and are never reused.
template <typename Tag>
struct Id {
  std::int64_t value = 0;

  constexpr bool valid() const { return value > 0; }
  auto operator<=>(const Id&) const = default;
  std::string ToString() const { return std::to_string(value); }
};

using RunId = Id<struct RunTag>;
using JobId = Id<struct JobTag>;
using JobEventId = Id<struct JobEventTag>;

}  // namespace sluss::core

template <typename Tag>
struct std::hash<sluss::core::Id<Tag>> {
  std::size_t operator()(const sluss::core::Id<Tag>& id) const noexcept {
    return std::hash<std::int64_t>{}(id.value);
  }
};
