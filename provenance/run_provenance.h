#pragma once

// The provenance routes' data: a job's provenance record and a run's
// RO-Crate, read from the store (a cached job is described by the job whose
// outputs it reused).

#include <nlohmann/json.hpp>

#include "core/store.h"

namespace sluss::provenance {

core::Result<nlohmann::json> JobProvenanceOf(core::Store& store, core::JobId job);
core::Result<nlohmann::json> RunCrateOf(core::Store& store, core::RunId run);

}  // namespace sluss::provenance
