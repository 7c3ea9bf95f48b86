#pragma once

// Provenance: what one job did, as a JSON record, and what a whole run did,
// as a Workflow Run RO-Crate (Process Run Crate profile 0.5): a CreateAction
// per job with its instrument (the action's code at the commit), objects
// (dataset versions by id, the outputs of its needs), results (outputs
// with SHA-256), agent (the person), container image (name and digest),
// times and status. Pure: the caller reads the store.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/types.h"

namespace sluss::provenance {

inline constexpr const char* kProcessRunCrate = "https://w3id.org/ro/wfrun/process/0.5";
inline constexpr const char* kRoCrate = "https://w3id.org/ro/crate/1.1";

// The job's provenance record: repository, commit, tree, sluss.yaml hash,
// action spec, command, image and digest, dataset versions and ids,
// permits, person, resources asked and used, node, GPUs, runtime and
// version, config.json and seccomp hashes, times, exit, status, outputs
// (size, SHA-256, level), cache key, and for a cached job the job whose
// outputs it reused (`reused`, which must then be given).
nlohmann::json JobProvenance(const core::Project& project, const core::Run& run,
                             const core::Job& job, const core::Job* reused = nullptr);

// The run's ro-crate-metadata.json from its jobs' provenance records.
nlohmann::json RunCrate(const core::Project& project, const core::Run& run,
                        const std::vector<nlohmann::json>& jobs);

// What a Process Run Crate must have and `crate` lacks, one line each
// (empty: it conforms as far as these checks go).
std::vector<std::string> CheckProcessRunCrate(const nlohmann::json& crate);

}  // namespace sluss::provenance
