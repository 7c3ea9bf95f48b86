#pragma once

// The outputs of a run as metadata, for `GET /v1/runs/{id}/outputs` and
// `sluss outputs`: per job, each collected file's path, level, size,
// SHA-256, the job and commit that made it, and for releasable files the
// automatic disclosure checks' verdict (airlock/). Never a file's contents.
//
// The checks run when a run's outputs are first listed, and their report is
// stored beside the outputs (`<job dir>/checks.json`, written whole by
// rename), so later listings read it. A stored report is used only while
// the file's SHA-256, the declaration, the tool's version and the
// parameters are the same; anything else is checked again.

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "airlock/check_params.h"
#include "airlock/release_desk.h"
#include "core/time.h"
#include "core/store.h"

namespace sluss::provenance {

struct RunOutputsOptions {
  // An attempt's directory (its outputs are under `<dir>/outputs/`).
  std::function<std::string(const core::Job&, int attempt)> job_dir;
  airlock::CheckParams params;
  // When set, the parameters the stewards set for the run's submitter's
  // permits apply (airlock::StewardChecksOf), as in their release requests.
  const core::Clock* clock = nullptr;
};

// Thread-safe as far as `store` is (several API workers may list the same
// run at once; each writes whole files).
core::Result<nlohmann::json> RunOutputsOf(core::Store& store, core::RunId run,
                                          const RunOutputsOptions& options);

}  // namespace sluss::provenance
