#pragma once

// The automatic disclosure checks' parameters: the one place they are set.
// Each default names its source; docs/pipeline.md explains them to
// researchers. The checks never approve an output on their own: a pass only
// means they found nothing, and every file still goes to two human checkers.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"
#include "core/pipeline.h"

namespace sluss::airlock {

inline constexpr const char* kToolName = "sluss-airlock";
// Bump when a rule changes, so that stored verdicts say which rules made them.
inline constexpr const char* kToolVersion = "2";

struct CheckParams {
  // File types an output checker can read as they are (text, tables, plain
  // images): the list of the issue, as OpenSAFELY's Airlock allows. Anything
  // else (a binary, an archive, a pickled model) is `review`.
  std::vector<std::string> allowed_types = {"csv", "tsv", "txt", "md", "json", "png", "svg"};
  // A file larger than this is not read at all and fails: no checker reviews
  // 64 MiB by hand, and the checks read a file once, in bounded memory.
  std::int64_t max_file_bytes = std::int64_t{64} << 20;
  // The minimum count in a cell of a declared count column: ACRO's
  // `safe_threshold: 10` (AI-SDC/ACRO acro/default.yaml), which is also
  // the threshold most UK trusted research environments apply.
  std::int64_t threshold = 10;
  // Zeros in count columns can disclose (everyone in a group shares, or
  // lacks, an attribute): ACRO's `zeros_are_disclosive: true`. An output
  // may declare its zeros structural (`zeros: allowed`).
  bool zeros_disclosive = true;
  // Rounding applies only when an output declares it (`round: 5`);
  // OpenSAFELY's rule of thumb is to redact counts of 7 or less, then round
  // to 5, and this is what docs/pipeline.md recommends.
  //
  // Bounds on one CSV's shape, so a hostile file cannot make the checks use
  // unbounded memory: the longest field and the most columns read.
  std::size_t max_cell_bytes = std::size_t{64} << 10;
  std::size_t max_columns = 4096;
};

nlohmann::json ToJson(const CheckParams& params);

// What a data steward sets for the checks of a permit's requests; unset
// fields keep CheckParams' defaults. The bounds below keep a steward's
// values within what the checks can do: a threshold of 1 to 1000, rounding
// to a base of 1 to 1000, a file cap no larger than the default (the checks
// read a file once, in bounded memory), file types only from the default
// list (the others cannot be read by a checker as they are).
inline constexpr std::int64_t kMaxThreshold = 1000;
inline constexpr int kMaxRound = 1000;

struct StewardChecks {
  std::optional<std::int64_t> threshold;         // the minimum count in a cell
  std::optional<int> round;                      // counts are multiples of this
  std::optional<bool> zeros_disclosive;          // false: zeros allowed
  std::optional<std::int64_t> max_file_bytes;
  std::optional<std::vector<std::string>> allowed_types;
};

// From an API body {"threshold", "round", "zeros_allowed", "max_file_bytes",
// "allowed_types"}: kInvalidArgument naming the field and its bounds.
core::Result<StewardChecks> StewardChecksFromJson(const nlohmann::json& j);
nlohmann::json ToJson(const StewardChecks& c);

// The parameters one file is checked with, and who set each: "default",
// "permit P-1" (its steward) or "sluss.yaml" (the researcher).
struct EffectiveChecks {
  CheckParams params;
  core::OutputControls controls;
  std::map<std::string, std::string> sources;  // by parameter name
};

// The defaults, tightened by each of `stewards` (by permit id: the
// strictest of them wins), then by what sluss.yaml declared for the file.
// sluss.yaml may only tighten a steward's values: rounding to a base that
// is not a multiple of the steward's, or zeros declared allowed where a
// steward made them disclosive, is kFailedPrecondition, naming both.
core::Result<EffectiveChecks> Resolve(const CheckParams& defaults,
                                      const std::map<std::string, StewardChecks>& stewards,
                                      std::string_view path, const core::OutputControls& declared);

}  // namespace sluss::airlock
