#pragma once

// Registered dataset versions and data permits, and the one rule that joins
// them: a job may use a dataset only under a valid permit of its project
// that covers the dataset (and the version, when the permit pins one) and
// names the person who submitted it. Pure: the store keeps these, git intake
// checks at submit, the job preparer at start, the permit watch while jobs
// run (revocation and expiry cancel them).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/time.h"

namespace sluss::core {

// A read-only directory registered by a steward, identified by the SHA-256
// of its BagIt-style manifest ("sha256:<hex>").
struct DatasetVersion {
  enum class State { kHashing, kReady, kFailed };
  std::string name;
  std::string version;
  std::string path;  // absolute, on the nodes
  State state = State::kHashing;
  std::string id;  // "sha256:..." once ready
  std::int64_t files = 0;
  std::int64_t bytes = 0;
  std::int64_t hashed_bytes = 0;  // progress while hashing
  std::string error;              // why hashing or verification failed
  std::string registered_by;
  TimePoint registered_at;
  std::optional<TimePoint> verified_at;  // the last full re-hash that matched
};
std::string_view Name(DatasetVersion::State s);
std::optional<DatasetVersion::State> ParseDatasetState(std::string_view s);
nlohmann::json ToJson(const DatasetVersion& d);

struct PermitDataset {
  std::string name;
  std::string version;  // empty: any registered version
  bool operator==(const PermitDataset&) const = default;
};

struct Permit {
  std::string id;  // "P-7"
  std::string project;
  std::vector<PermitDataset> datasets;
  std::vector<std::string> persons;  // user names / commit e-mails
  std::string purpose;
  TimePoint valid_from;
  TimePoint valid_until;
  std::string granted_by;
  TimePoint granted_at;
  std::optional<TimePoint> revoked_at;
  std::string revoked_by;
  std::string revoke_reason;

  bool ValidAt(TimePoint now) const {
    return !revoked_at && valid_from <= now && now < valid_until;
  }
  // "expired 2026-10-01", "revoked 2026-11-20 (reason)", "valid from ...",
  // or "" when valid at `now`.
  std::string WhyInvalid(TimePoint now) const;
};
nlohmann::json ToJson(const Permit& p);
// A permit from an API body; kInvalidArgument naming the field. The
// granting fields (granted_by/at, revoked_*) are not read.
Result<Permit> PermitFromJson(const nlohmann::json& j);

// The permit under which `person` may use `dataset` (at `version`, which
// may be empty before it is resolved) in `project` at `now`: its id, or a
// kPermissionDenied error whose message reads, for example,
//   dataset prescriptions is not in any valid permit of project p1 (permit
//   P-7 expired 2026-10-01)
//   alice@example.org is not a person named in permit P-7, which covers
//   dataset prescriptions in project p1
Result<std::string> FindPermit(const std::vector<Permit>& permits, std::string_view project,
                               std::string_view dataset, std::string_view version,
                               std::string_view person, TimePoint now);

// The version a job gets when it names none: the newest ready version that
// a permit allowing `person` covers; a permit that pins one gives that one.
// nullopt when none fits (FindPermit then says why).
std::optional<DatasetVersion> ResolveDataset(const std::vector<Permit>& permits,
                                             const std::vector<DatasetVersion>& versions,
                                             std::string_view project, std::string_view dataset,
                                             std::string_view person, TimePoint now);

}  // namespace sluss::core
