#pragma once

// `sluss check [FILE] [--json]`: validates a pipeline file offline.

#include <iosfwd>
#include <string>

#include "core/pipeline.h"

namespace sluss::cli {

struct CheckOptions {
  std::string file = "sluss.yaml";
  bool json = false;
};

// Returns the exit code: 0 valid, 1 invalid or unreadable.
int RunCheck(const CheckOptions& options, std::ostream& out, std::ostream& err);

// The plan of a valid pipeline as a table, in run order.
void PrintPlan(const core::Pipeline& pipeline, std::ostream& out);

}  // namespace sluss::cli
