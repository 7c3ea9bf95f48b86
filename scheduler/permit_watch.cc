#include "scheduler/permit_watch.h"

#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/job_spec.h"
#include "core/permit.h"
#include "core/strings.h"
#include "logging/log.h"

namespace sluss::scheduler {

using logging::Log;
using logging::LogLevel;

using core::StrCat;
using nlohmann::json;

int PermitWatch::Sweep() {
  auto permits = store_.ListPermits("");
  if (!permits) return 0;
  const core::TimePoint now = clock_.Now();
  // A job's cover changes only when a permit does (granted, edited, revoked)
  // or when a permit's validity begins or ends; the jobs were checked against
  // these permits when they were submitted. Without either, nothing to do:
  // reading every active job each time costs seconds with 100,000 queued.
  std::string fingerprint;
  bool boundary_passed = false;
  for (const auto& p : *permits) {
    fingerprint += ToJson(p).dump();
    for (core::TimePoint b : {p.valid_from, p.valid_until})
      if (last_sweep_ && *last_sweep_ < b && b <= now) boundary_passed = true;
  }
  fingerprint = core::Sha256Hex(fingerprint);
  if (last_sweep_ && fingerprint == fingerprint_ && !boundary_passed) return 0;
  auto active = store_.ListActiveJobs();
  if (!active) return 0;
  fingerprint_ = fingerprint;
  last_sweep_ = now;
  int cancelled = 0;
  for (const auto& job : active->jobs) {
    auto spec = core::ParseJobSpec(job.spec_json);
    // A spec that does not load never runs (the engine fails it).
    if (!spec || spec->datasets.empty()) continue;
    auto person = persons_.find(job.run_id);
    if (person == persons_.end()) {
      auto run = store_.GetRun(job.run_id);
      if (!run) continue;
      person = persons_.emplace(job.run_id, run->submitted_by).first;
    }
    for (const auto& d : spec->datasets) {
      auto ok = core::FindPermit(*permits, job.project, d.name, d.version, person->second, now);
      if (ok) continue;
      auto r = store_.TransitionJob(job.id, job.status, core::StatusCode::kPermitRevoked,
                                    StrCat("permit_revoked: ", ok.error().message), now);
      if (r) {
        ++cancelled;
        Log(LogLevel::kWarn, StrCat("job ", job.id.value, " (", job.project, "/", job.action,
                                    ") cancelled: ", ok.error().message));
      }
      break;
    }
  }
  // Forget runs that have no active job left.
  std::map<core::RunId, std::string> keep;
  for (const auto& job : active->jobs)
    if (auto it = persons_.find(job.run_id); it != persons_.end()) keep.insert(*it);
  persons_.swap(keep);
  return cancelled;
}

}  // namespace sluss::scheduler
