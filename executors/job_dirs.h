#pragma once

// Job directories against the store, after the database lost part of its
// past (a restored backup, `slussd recover --accept-loss`): an attempt's
// directory is kept only when a job row of the store names it (its id,
// an attempt the row has reached, and the row's core::AttemptKey); every
// other one, which a job the database no longer knows left, is moved aside
// whole, never adopted and never deleted.

#include <string>
#include <vector>

#include "core/store.h"

namespace sluss::executors {

struct JobDirReport {
  std::vector<std::string> kept;       // directory names the store accounts for
  std::vector<std::string> set_aside;  // moved into `aside_dir`
};

// The attempt directories of `jobs_dir` that no job row of the store names,
// sorted: what a database rolled back (with its high-water mark, or after
// the mark was removed) cannot account for. Nothing is moved.
core::Result<std::vector<std::string>> UnknownAttempts(core::Store& store,
                                                       const std::string& jobs_dir);

// Moves the unaccounted attempt directories of `jobs_dir` into `aside_dir`
// (made when needed; on the same file system). Names that are not attempt
// directories are left where they are. One whose supervisor still runs is
// an error naming it, and nothing is moved; a lost one's container and
// output mount are cleared (sandbox::CleanUpLost) before it is moved.
core::Result<JobDirReport> SetAsideUnknownAttempts(core::Store& store, const std::string& jobs_dir,
                                                   const std::string& aside_dir);

}  // namespace sluss::executors
