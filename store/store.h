#pragma once

// SqliteStore: the core::Store port on one SQLite file. The only module that
// knows SQL.
//
// Durability: WAL journal, synchronous=FULL, so a call that returned has
// reached the disk; every multi-row change is one transaction, so a crash or
// SIGKILL at any moment leaves either all of it or none.
// Schema: migrated forward on Open by PRAGMA user_version; a database newer
// than this binary is refused (kFailedPrecondition), never downgraded.
// Threads: every method may be called from any thread; calls are serialised
// on one connection (one writer).

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/store.h"

struct sqlite3;

namespace sluss::store {

namespace internal {
class Stmt;
}

class SqliteStore final : public core::Store {
 public:
  // Opens or creates the database at `path` and migrates it to the newest
  // schema. Errors: kFailedPrecondition for a newer schema or a file that is
  // not a sluss database; kInternal/kUnavailable for I/O and locking.
  static core::Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  // Opens an existing database read-only, without migrating it (an
  // auditor's copy, for `sluss audit verify --db`). Only reads work.
  static core::Result<std::unique_ptr<SqliteStore>> OpenReadOnly(const std::string& path);

  // The schema version this binary writes.
  static int LatestSchemaVersion();

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  core::Result<void> Atomically(const std::function<core::Result<void>()>& change) override;
  core::Result<void> CreateProject(const core::Project& project) override;
  core::Result<core::Project> GetProject(std::string_view name) override;
  core::Result<std::vector<core::Project>> ListProjects() override;

  core::Result<core::Project> UpdateQuota(std::string_view project,
                                          const core::Quota& quota) override;
  core::Result<core::Project> UpdateBranches(std::string_view project,
                                             const std::vector<std::string>& branches) override;
  core::Result<void> EnsureUser(std::string_view user, core::TimePoint now) override;
  core::Result<void> AddMember(std::string_view project, std::string_view user) override;
  core::Result<void> RemoveMember(std::string_view project, std::string_view user) override;
  core::Result<std::vector<std::string>> ListMembers(std::string_view project) override;
  core::Result<std::vector<std::string>> ProjectsOf(std::string_view user) override;
  core::Result<core::Token> CreateToken(const core::Token& token,
                                        std::string_view secret_hash) override;
  core::Result<core::Token> FindToken(std::string_view secret_hash) override;
  core::Result<std::vector<core::Token>> ListTokens(std::optional<std::string> user) override;
  core::Result<void> RevokeToken(std::int64_t id, core::TimePoint now) override;

  core::Result<core::Run> CreateRun(const core::NewRun& run,
                                    core::TimePoint now) override;
  core::Result<core::Run> GetRun(core::RunId id) override;
  core::Result<core::Run> GetRunByDedupeKey(std::string_view key) override;
  core::Result<std::optional<core::JobId>> FindSucceededJob(std::string_view project,
                                                            std::string_view cache_key) override;
  core::Result<std::vector<core::Run>> ListRuns(
      const core::RunFilter& filter) override;

  core::Result<core::Job> GetJob(core::JobId id) override;
  core::Result<std::vector<core::Job>> ListJobs(core::RunId run) override;
  core::Result<std::vector<core::Job>> ListRunJobs(
      core::RunId run, std::int64_t after, int limit,
      const std::vector<core::StatusCode>& statuses) override;
  core::Result<std::map<core::StatusCode, std::int64_t>> CountRunJobs(core::RunId run) override;
  using core::Store::TransitionJob;
  core::Result<core::Job> TransitionJob(core::JobId id, core::StatusCode expected,
                                        core::StatusCode to, std::string_view reason,
                                        core::TimePoint now,
                                        const core::JobUpdate& update) override;
  core::Result<std::vector<core::Result<core::Job>>> TransitionJobs(
      const std::vector<core::JobTransition>& batch, core::TimePoint now) override;
  core::Result<void> UpdateJob(core::JobId id, int attempt,
                               const core::JobUpdate& update) override;
  core::Result<core::ActiveJobs> ListActiveJobs() override;
  core::Result<core::ActiveJobs> ListJobChanges(std::int64_t after) override;
  core::Result<std::vector<core::JobEvent>> ListJobEvents(
      core::JobId id) override;
  core::Result<std::vector<core::JobCount>> CountJobs(std::string_view project) override;
  core::Result<std::map<std::string, core::ProjectDisk>> DiskByProject() override;
  core::Result<std::vector<core::UsageRow>> AccountJobs(std::string_view project,
                                                        core::TimePoint from,
                                                        core::TimePoint until) override;
  core::Result<void> PutSetting(std::string_view key, std::string_view json_value,
                                core::TimePoint now) override;
  core::Result<std::string> GetSetting(std::string_view key) override;

  core::Result<core::AuditRecord> AppendAudit(const core::AuditEvent& event,
                                              core::TimePoint now) override;
  core::Result<std::vector<core::AuditRecord>> ListAudit(std::int64_t after, int limit) override;
  core::Result<std::int64_t> AuditSize() override;
  core::Result<std::vector<core::Sha256Digest>> AuditLeaves(std::int64_t n) override;
  core::Result<void> AddAuditCheckpoint(const core::AuditCheckpoint& checkpoint) override;
  core::Result<std::vector<core::AuditCheckpoint>> ListAuditCheckpoints() override;
  core::Result<std::int64_t> PurgeAuditPayloads(core::TimePoint before) override;

  core::Result<void> CreateDataset(const core::DatasetVersion& dataset, core::TimePoint now) override;
  core::Result<void> UpdateDataset(const core::DatasetVersion& dataset, std::string_view actor,
                                   core::TimePoint now) override;
  core::Result<core::DatasetVersion> GetDataset(std::string_view name,
                                                std::string_view version) override;
  core::Result<std::vector<core::DatasetVersion>> ListDatasets() override;
  core::Result<core::Permit> CreatePermit(const core::Permit& permit, core::TimePoint now) override;
  core::Result<core::Permit> GetPermit(std::string_view id) override;
  core::Result<std::vector<core::Permit>> ListPermits(std::string_view project) override;
  core::Result<core::Permit> RevokePermit(std::string_view id, std::string_view by,
                                          std::string_view reason, core::TimePoint now) override;
  core::Result<core::Release> CreateRelease(const core::Release& release) override;
  core::Result<core::Release> GetRelease(std::int64_t id) override;
  core::Result<std::vector<core::Release>> ListReleases(std::string_view project,
                                                        std::string_view author) override;
  core::Result<core::Release> UpdateRelease(const core::Release& release) override;

  // `PRAGMA integrity_check` and `foreign_key_check`; for tests and
  // `slussd --check-state`.
  core::Result<void> CheckIntegrity();
  // `PRAGMA quick_check`, at every start: kFailedPrecondition with SQLite's
  // first complaint.
  core::Result<void> QuickCheck();
  // The largest job id the database ever gave (0: none).
  core::Result<std::int64_t> LastJobId();
  // The newest signed audit checkpoint (nullopt: none yet).
  core::Result<std::optional<core::AuditCheckpoint>> LatestAuditCheckpoint();
  // A consistent copy of the database, as of one moment, in a new file at
  // `path` (SQLite's online backup API): other calls go on meanwhile, and
  // the copy is synced before this returns. kAlreadyExists when `path`
  // exists.
  core::Result<void> BackupTo(const std::string& path);

 private:
  explicit SqliteStore(sqlite3* db);
  core::Result<void> Migrate();
  // Holds mu_ and, on release, resets every cached statement used under it,
  // so no statement keeps a read transaction (and an old WAL snapshot) open
  // between calls. mu_ is recursive for Atomically: the calls its change
  // makes lock it again on the same thread.
  class Locked {
   public:
    explicit Locked(SqliteStore* store) : store_(store), lock_(store->mu_) {}
    ~Locked() { store_->ResetUsed(); }
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;

   private:
    SqliteStore* store_;
    std::lock_guard<std::recursive_mutex> lock_;
  };
  Locked Lock() { return Locked(this); }
  // A cached prepared statement, reset. REQUIRES: a Locked in scope.
  internal::Stmt& Prepare(const char* sql);
  void ResetUsed();
  core::Result<core::Run> GetRunLocked(core::RunId id);
  core::Result<core::Job> GetJobLocked(core::JobId id);
  core::Result<void> UpdateRunStateLocked(core::RunId id, core::TimePoint now);
  core::Result<void> ApplyUpdateLocked(core::JobId id, const core::JobUpdate& update);
  // REQUIRES: a Locked and a Transaction in scope.
  // Leaves the run's state to the caller when `run_state` is false (a batch
  // derives each run's state once, at its end).
  core::Result<core::Job> TransitionLocked(core::JobId id, core::StatusCode expected,
                                           core::StatusCode to, std::string_view reason,
                                           core::TimePoint now, const core::JobUpdate& update,
                                           bool run_state = true);
  // REQUIRES: a Locked and a Transaction in scope.
  core::Result<core::AuditRecord> AppendAuditLocked(const core::AuditEvent& event,
                                                    core::TimePoint now);
  core::Result<core::DatasetVersion> GetDatasetLocked(std::string_view name,
                                                      std::string_view version);
  core::Result<core::Permit> GetPermitLocked(std::string_view id);
  // REQUIRES: a Locked in scope (and a read Transaction for a consistent view).
  core::Result<std::int64_t> LastJobEventLocked();
  // Reads rows of (job, need, need's status, need's action) into `out`.
  core::Result<void> ReadNeedsLocked(internal::Stmt& n, core::ActiveJobs& out);

  std::recursive_mutex mu_;
  sqlite3* db_;  // GUARDED_BY(mu_)
  std::unordered_map<const char*, std::unique_ptr<internal::Stmt>> stmts_;  // GUARDED_BY(mu_)
  std::vector<internal::Stmt*> used_;  // GUARDED_BY(mu_)
};

}  // namespace sluss::store
