#pragma once

// AuditBatch: what the audit log aggregates rather than records one by one
// (requests with no valid credential, requests over the rate limit, reads
// of the audit log itself), so that anonymous traffic cannot grow the
// append-only log without bound and reading the log until it is empty
// ends. Per client (actor and address) and minute: the first such request
// is recorded at once; the others of that minute are counted, and their
// count is one record written once the minute is over (at the next request,
// or at Shutdown). So a client adds at most two records a minute.
//
// Thread safety: every method may be called from any thread.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/audit.h"
#include "core/time.h"

namespace sluss::api::internal {

class AuditBatch {
 public:
  // At most `max_clients` clients are counted apart in a minute; beyond,
  // the rest share one count (address "*").
  explicit AuditBatch(std::size_t max_clients = 10'000) : max_clients_(max_clients) {}

  // Counts one request. Returns the records to write now: when it is the
  // client's first of the minute, `event` (with "aggregated" in its
  // payload), after the count of an earlier minute if one is left; else
  // none.
  std::vector<core::AuditEvent> Count(core::AuditEvent event, const std::string& remote,
                                        const std::string& route, core::TimePoint now);
  // The count records of minutes that ended before `now` (all of them when
  // `now` is nullopt), removed from the batch.
  std::vector<core::AuditEvent> TakeEnded(std::optional<core::TimePoint> now);

 private:
  struct Tally {
    std::int64_t minute = 0;  // Unix minutes
    std::int64_t more = 0;    // after the first, which was recorded
    std::map<std::string, std::int64_t> routes;
  };
  using Key = std::tuple<std::string, std::string, std::string>;  // action, actor, remote

  static core::AuditEvent Summary(const Key& key, const Tally& t);

  const std::size_t max_clients_;
  std::mutex mu_;
  std::map<Key, Tally> tallies_;        // GUARDED_BY(mu_)
  std::int64_t oldest_ = INT64_MAX;     // GUARDED_BY(mu_): the oldest minute counted
};

}  // namespace sluss::api::internal
