#pragma once

// The Slurm executor's files and processes: Slurm's clients run as
// processes (bounded in time and output), and each attempt's records in its
// directory (the intent before sbatch, sluss-run's result), written
// durably where a crash must not lose them.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/error.h"
#include "core/job_spec.h"
#include "executors/slurm.h"

namespace sluss::executors::internal {

// The attempt's Slurm record in its directory (slurm.json): written before
// sbatch (the intent: name, no id) and again with the id sbatch gave.
struct Intent {
  std::string name;
  std::string id;
  std::int64_t submitted_at = 0;  // seconds since the epoch
};
std::optional<Intent> ReadIntent(const std::string& dir);
core::Result<void> WriteIntent(const std::string& dir, const Intent& i);

std::optional<std::string> ReadFile(const std::string& path);
// Atomically: a temporary file, fsync, rename, fsync of the directory.
core::Result<void> WriteDurably(const std::string& path, const std::string& text, mode_t mode);
// sluss-run's result.json in `dir`, when there is a readable one.
std::optional<core::JobResult> ReadResult(const std::string& dir);
// The attempt's own exported code (named in its spec; not a commit's shared
// one): not needed once it ended.
void RemoveWorkspace(const std::string& dir);
std::int64_t EpochSeconds();

}  // namespace sluss::executors::internal
