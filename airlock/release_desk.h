#pragma once

// ReleaseDesk: the airlock's service (core::ReleaseService) on the Store.
// It stores release requests, freezes each added file under its own
// directory by content hash, runs the automatic checks on the frozen copy,
// moves requests only through the state machine (airlock/release_request.h)
// and writes an audit record for every move and every download, in the same
// transaction as the change.
//
// Who may do what, beyond the state machine:
//   - a request is created and added to by a researcher who is a member of
//     the project and named on one of its valid permits;
//   - only `releasable` outputs of succeeded (or cached) jobs of the
//     project are added; a sensitive output is refused;
//   - checkers must be members of the project too (they see only their
//     projects); admins, stewards and auditors see every request's record;
//   - only members download, and only from a released request; the
//     checkers who are members read a request's files whole while it is
//     under review (submitted to approved), each read audited as
//     release.review_read;
//   - a job's full log (stdout or stderr, which researchers otherwise see
//     only the tail of) is added like a file, as `log/job-N/stdout.log`,
//     once the job has ended: frozen, checked as text within the size cap,
//     reviewed, and the author reads it only after release.
// Frozen copies: `<release_dir>/<id>/<sha256>`, written by copying (never a
// link to the job's live file) and checked against the job's recorded
// SHA-256 while copying; downloads hash them again. The copy and the checks
// run first, under a temporary name and with no lock of the store held (the
// caller must not hold one either: the API serves this route outside its
// transaction); one short transaction then records the file against the
// request and the job's record as they are then, and names the copy by its
// hash. Any refusal removes the copy.
//
// Thread safety: as the Store; the file work of two adds to one request
// ends in one stored change each (a stale one is kConflict).

#include <functional>
#include <map>
#include <string>

#include "airlock/check_params.h"
#include "core/release.h"
#include "core/store.h"
#include "core/time.h"

namespace sluss::airlock {

struct ReleaseDeskOptions {
  // An attempt's directory (its outputs are under `<dir>/outputs/`).
  std::function<std::string(const core::Job&, int attempt)> job_dir;
  // The files of an attempt's full log ("stdout" or "stderr"), oldest
  // first; empty when there is none (slussd: the executor's LogFiles).
  std::function<std::vector<std::string>(const core::Job&, int attempt, const std::string& stream)>
      log_files;
  // Where frozen copies live (slussd: `<state>/releases`).
  std::string release_dir;
  CheckParams params;
  // Tests only: called once while a file is being copied into the release
  // area (after its first block), on the copying thread, with no lock of
  // the store held.
  std::function<void()> while_copying;
};

// What the stewards set for the checks of `user`'s requests in `project`:
// of each permit valid at `now` that names the user (every valid permit of
// the project when `user` is empty), by permit id. Settings that cannot be
// read are kInternal, never skipped.
core::Result<std::map<std::string, StewardChecks>> StewardChecksOf(core::Store& store,
                                                                  std::string_view project,
                                                                  std::string_view user,
                                                                  core::TimePoint now);

class ReleaseDesk final : public core::ReleaseService {
 public:
  // `store` and `clock` must outlive the desk.
  ReleaseDesk(core::Store& store, const core::Clock& clock, ReleaseDeskOptions options);

  core::Result<core::Release> Create(const core::ReleaseActor& who, std::string_view project,
                                     std::string_view context) override;
  core::Result<core::Release> Add(const core::ReleaseActor& who, std::int64_t id,
                                  const core::AddReleaseFile& file) override;
  core::Result<core::Release> Apply(const core::ReleaseActor& who, std::int64_t id,
                                    const core::ReleaseMove& move) override;
  core::Result<core::Release> Get(const core::ReleaseActor& who, std::int64_t id) override;
  core::Result<std::vector<core::Release>> List(const core::ReleaseActor& who,
                                                std::string_view project) override;
  core::Result<core::ReleaseDownload> Download(const core::ReleaseActor& who, std::int64_t id,
                                               std::string_view path) override;

  core::Result<nlohmann::json> GetChecks(const core::ReleaseActor& who,
                                         std::string_view permit) override;
  core::Result<nlohmann::json> SetChecks(const core::ReleaseActor& who, std::string_view permit,
                                         const nlohmann::json& checks) override;

  // `r` as `who` may see it (see core::ReleaseService::Get).
  static core::Release Redact(const core::Release& r, const core::ReleaseActor& who);

 private:
  core::Result<core::Release> Visible(const core::ReleaseActor& who, std::int64_t id);
  core::Result<bool> IsMember(const core::ReleaseActor& who, std::string_view project);
  core::Result<void> OnPermit(const core::ReleaseActor& who, std::string_view project);
  // Stores `after` and its audit record in one transaction.
  core::Result<core::Release> Store(const core::ReleaseActor& who, core::Release after,
                                    std::string_view action, nlohmann::json payload);

  core::Store& store_;
  const core::Clock& clock_;
  ReleaseDeskOptions options_;
};

}  // namespace sluss::airlock
