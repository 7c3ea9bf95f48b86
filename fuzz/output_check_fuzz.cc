// Fuzz target: the automatic disclosure checks read tables a job wrote,
// which is researcher-controlled input. They must never crash, hang or
// grow without bound, and chunking must not change the verdict: the first
// byte picks a chunk size, and the report must equal the one-chunk report.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "airlock/output_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t chunk = std::size_t{data[0]} % 17 + 1;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  sluss::core::OutputControls controls;
  controls.counts = {"n", "count"};
  controls.round = 5;
  sluss::airlock::CheckParams params;
  params.max_cell_bytes = 256;
  params.max_columns = 64;
  auto whole = sluss::airlock::CheckBytes("t.csv", text, controls, params);
  sluss::airlock::FileCheck check("t.csv", static_cast<std::int64_t>(text.size()), controls, params);
  for (std::size_t i = 0; i < text.size() && check.wants_bytes(); i += chunk) {
    check.Feed(text.substr(i, chunk));
  }
  auto parts = check.Finish();
  if (parts.outcome != whole.outcome || parts.rows != whole.rows ||
      parts.findings.size() != whole.findings.size() || parts.columns.size() != whole.columns.size())
    std::abort();
  // One finding per rule and column at most: bounded by the columns read.
  if (whole.findings.size() > 8 * (whole.columns.size() + 2)) std::abort();
  auto worst = sluss::airlock::Outcome::kPass;
  for (const auto& f : whole.findings) worst = std::max(worst, f.outcome);
  if (worst != whole.outcome) std::abort();
  return 0;
}
