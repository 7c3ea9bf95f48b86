#pragma once

// PermitWatch: the kill switch. Every pending or running job whose datasets
// are no longer covered by a valid permit of its project naming its run's
// person (the permit was revoked, or expired) is cancelled with
// `permit_revoked` and the reason; the engine then stops its container.
// Sweep runs after every permit change and every few seconds (expiry); it
// reads the jobs only when a permit changed or a validity boundary passed.

#include <map>
#include <optional>
#include <string>

#include "core/store.h"
#include "core/time.h"

namespace sluss::scheduler {

class PermitWatch {
 public:
  // `store` and `clock` must outlive the watch.
  PermitWatch(core::Store& store, const core::Clock& clock) : store_(store), clock_(clock) {}
  // Cancels what must stop; returns how many jobs it cancelled.
  int Sweep();

 private:
  core::Store& store_;
  const core::Clock& clock_;
  std::map<core::RunId, std::string> persons_;  // run -> submitted_by
  std::string fingerprint_;                      // of the permits last swept against
  std::optional<core::TimePoint> last_sweep_;
};

}  // namespace sluss::scheduler
