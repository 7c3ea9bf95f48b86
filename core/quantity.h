#pragma once

// Parsing and printing of the quantities people write in sluss.yaml, quotas
// and config: memory sizes, durations and CPU counts.
//
// Conventions, chosen to match what Slurm users already write:
//   memory  "16G", "512Mi", "1.5T", "2048" (bytes). K, M, G, T and P are
//           powers of 1024 whether or not an "i" follows ("16G" == "16Gi"),
//           and an optional trailing "B" is accepted ("16GB", "16GiB").
//   time    "2h", "90m", "1d12h", "1h30m", "45s", "1.5h". Units d, h, m, s
//           in that order, each at most once. A bare number is refused: is
//           "90" minutes (Slurm) or seconds (Kubernetes)?
//   cpus    "4", "0.5", "500m" (millicpus). Kept as whole millicpus.
//
// Every parser refuses negatives, unknown units, junk and values too large to
// be meant, with a message that quotes the input and says what would be valid.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace sluss::core {

inline constexpr std::int64_t kMaxBytes = std::int64_t{1} << 60;   // 1024P
inline constexpr std::int64_t kMaxMilliCpus = 1'000'000'000;     // 1M CPUs
inline constexpr std::chrono::seconds kMaxDuration{366LL * 24 * 3600};

Result<std::int64_t> ParseBytes(std::string_view text);
// The shortest text that ParseBytes reads back as exactly `bytes`, the
// larger unit on ties: 17179869184 -> "16G", 1536 -> "1.5K",
// ParseBytes("1.9951T") -> "1.9951T", 1073741825 -> "1073741825". Never
// rounded, so what is stored or shown as text is the value that was given.
std::string FormatBytes(std::int64_t bytes);

Result<std::chrono::seconds> ParseDuration(std::string_view text);
// 129600s -> "1d12h"; 0 -> "0s".
std::string FormatDuration(std::chrono::seconds d);

Result<std::int64_t> ParseMilliCpus(std::string_view text);
// 500 -> "0.5", 4000 -> "4", 1250 -> "1.25".
std::string FormatMilliCpus(std::int64_t milli);

}  // namespace sluss::core
