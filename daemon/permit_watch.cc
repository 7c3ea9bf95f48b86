#include "daemon/permit_watch.h"

#include <nlohmann/json.hpp>

#include "core/permit.h"
#include "core/strings.h"
#include "daemon/log.h"

namespace sluss::daemon {

using core::StrCat;
using nlohmann::json;

int PermitWatch::Sweep() {
  auto active = store_.ListActiveJobs();
  if (!active) return 0;
  auto permits = store_.ListPermits("");
  if (!permits) return 0;
  const core::TimePoint now = clock_.Now();
  int cancelled = 0;
  for (const auto& job : active->jobs) {
    json spec = json::parse(job.spec_json, nullptr, false);
    if (!spec.is_object()) continue;
    const auto datasets = spec.value("datasets", json::array());
    if (datasets.empty()) continue;
    auto person = persons_.find(job.run_id);
    if (person == persons_.end()) {
      auto run = store_.GetRun(job.run_id);
      if (!run) continue;
      person = persons_.emplace(job.run_id, run->submitted_by).first;
    }
    for (const auto& d : datasets) {
      auto ok = core::FindPermit(*permits, job.project, d.value("name", ""),
                                 d.value("version", ""), person->second, now);
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

}  // namespace sluss::daemon
