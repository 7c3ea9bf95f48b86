#pragma once

// The automatic disclosure checks' parameters: the one place they are set.
// Each default names its source; docs/pipeline.md explains them to
// researchers. The checks never approve an output on their own: a pass only
// means they found nothing, and every file still goes to two human checkers.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

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

}  // namespace sluss::airlock
