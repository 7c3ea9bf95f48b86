#pragma once

// ProvenanceWriter: puts each ended job's provenance record in its
// directory (jobs/<job>-<attempt>/provenance.json), beside spec.json and
// result.json, so that the job's directory alone tells what it was. It
// follows the audit log (job.status records into a terminal state) from a
// watermark kept in the store, so a restart writes what it missed.

#include <cstdint>
#include <functional>
#include <string>

#include "core/store.h"

namespace sluss::provenance {

class ProvenanceWriter {
 public:
  // `store` must outlive the writer; `job_dir` gives an attempt's directory.
  ProvenanceWriter(core::Store& store,
                   std::function<std::string(const core::Job&, int attempt)> job_dir)
      : store_(store), job_dir_(std::move(job_dir)) {}
  // Writes the records of jobs that ended since the last call; returns how
  // many.
  int Catch();

 private:
  core::Store& store_;
  std::function<std::string(const core::Job&, int attempt)> job_dir_;
  std::int64_t after_ = -1;  // audit seq; -1: not read from the store yet
};

}  // namespace sluss::provenance
