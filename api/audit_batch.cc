#include "api/internal/audit_batch.h"

#include <chrono>

#include "core/strings.h"

namespace sluss::api::internal {

namespace {

std::int64_t MinuteOf(core::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::minutes>(t.time_since_epoch()).count();
}

core::TimePoint StartOf(std::int64_t minute) {
  return core::TimePoint(std::chrono::duration_cast<core::TimePoint::duration>(std::chrono::minutes(minute)));
}

}  // namespace

core::AuditEvent AuditBatch::Summary(const Key& key, const Tally& t) {
  const auto& [action, actor, remote] = key;
  nlohmann::json routes = nlohmann::json::object();
  for (const auto& [r, n] : t.routes) routes[r] = n;
  return {actor, action, core::StrCat("client/", remote),
          {{"count", t.more},
           {"minute", core::FormatRfc3339(StartOf(t.minute))},
           {"remote", remote},
           {"routes", routes},
           {"aggregated", "this client's requests of this kind in the minute, after the first"}}};
}

std::vector<core::AuditEvent> AuditBatch::Count(core::AuditEvent event, const std::string& remote,
                                                const std::string& route, core::TimePoint now) {
  const std::int64_t minute = MinuteOf(now);
  std::vector<core::AuditEvent> out;
  std::lock_guard lock(mu_);
  Key key{event.action, event.actor, remote};
  auto it = tallies_.find(key);
  if (it == tallies_.end() && tallies_.size() >= max_clients_) {
    key = Key{event.action, event.actor, "*"};
    it = tallies_.find(key);
  }
  if (it != tallies_.end() && it->second.minute >= minute) {
    ++it->second.more;
    if (it->second.routes.size() < 16 || it->second.routes.contains(route)) ++it->second.routes[route];
    return out;
  }
  // The client's first of this minute: an earlier minute's count, if any
  // is left, is written before it.
  if (it != tallies_.end() && it->second.more > 0) out.push_back(Summary(key, it->second));
  Tally t;
  t.minute = minute;
  tallies_[key] = t;
  oldest_ = std::min(oldest_, minute);
  event.payload["aggregated"] = core::StrCat(
      "the first of this client's requests of this kind in the minute from ",
      core::FormatRfc3339(StartOf(minute)), "; the others are counted in one record after it");
  out.push_back(std::move(event));
  return out;
}

std::vector<core::AuditEvent> AuditBatch::TakeEnded(std::optional<core::TimePoint> now) {
  const std::int64_t current = now ? MinuteOf(*now) : INT64_MAX;
  std::vector<core::AuditEvent> out;
  std::lock_guard lock(mu_);
  if (oldest_ >= current) return out;
  oldest_ = INT64_MAX;
  for (auto it = tallies_.begin(); it != tallies_.end();) {
    if (it->second.minute >= current) {
      oldest_ = std::min(oldest_, it->second.minute);
      ++it;
      continue;
    }
    if (it->second.more > 0) out.push_back(Summary(it->first, it->second));
    it = tallies_.erase(it);
  }
  return out;
}

}  // namespace sluss::api::internal
