#include "scheduler/queue_depth.h"

#include <algorithm>
#include <string_view>
#include <tuple>
#include <unordered_map>

namespace sluss::scheduler {
namespace {

using core::StatusCode;

// A job the planner would only place or give a resource, quota or pause
// reason: one of many alike, which may wait behind the first `depth`.
bool InLine(const PendingJob& job, const std::map<core::JobId, NeedStatus>& needs,
            core::TimePoint now) {
  if (job.status != StatusCode::kWaitingOnResources && job.status != StatusCode::kWaitingOnQuota &&
      job.status != StatusCode::kPaused)
    return false;
  if (job.reason.empty() || (job.eligible_at && *job.eligible_at > now)) return false;
  for (core::JobId need : job.needs) {
    auto it = needs.find(need);
    if (it != needs.end() && core::StateOf(it->second.status) != core::JobState::kSucceeded)
      return false;
  }
  return true;
}

}  // namespace

std::vector<std::size_t> FirstInLine(const std::vector<PendingJob>& pending,
                                     const std::map<core::JobId, NeedStatus>& needs, int depth,
                                     core::TimePoint now) {
  std::vector<std::size_t> out;
  if (depth <= 0 || pending.size() <= static_cast<std::size_t>(depth)) {
    out.resize(pending.size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = i;
    return out;
  }
  std::unordered_map<std::string_view, std::vector<std::size_t>> lines;  // by project
  for (std::size_t i = 0; i < pending.size(); ++i) {
    if (InLine(pending[i], needs, now))
      lines[pending[i].project].push_back(i);
    else
      out.push_back(i);
  }
  const auto ahead = [&](std::size_t a, std::size_t b) {
    const PendingJob& x = pending[a];
    const PendingJob& y = pending[b];
    return std::tuple(-x.priority, x.submitted_at, x.id) <
           std::tuple(-y.priority, y.submitted_at, y.id);
  };
  for (auto& [_, line] : lines) {
    if (line.size() > static_cast<std::size_t>(depth)) {
      std::nth_element(line.begin(), line.begin() + depth, line.end(), ahead);
      line.resize(static_cast<std::size_t>(depth));
    }
    out.insert(out.end(), line.begin(), line.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace sluss::scheduler
