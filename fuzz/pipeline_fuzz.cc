// Fuzz target: sluss.yaml parsing and validation must never crash, hang or
// leak on any input, and must either accept or give at least one
// positioned diagnostic.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/pipeline.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = sluss::core::ParsePipeline(text);
  if (p) {
    // A valid pipeline has a complete order and serialises.
    if (p->order.size() != p->actions.size()) std::abort();
    for (const auto& a : p->actions) (void)sluss::core::ToJson(a).dump();
  } else {
    if (p.error().empty()) std::abort();
    for (const auto& d : p.error()) {
      if (d.pos.line < 1 || d.pos.column < 1 || d.message.empty()) std::abort();
    }
  }
  return 0;
}
