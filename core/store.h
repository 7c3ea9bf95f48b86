#pragma once

// The Store port: durable state. SqliteStore (store/) implements it; unit
// tests of other modules may use a fake behind this interface.
//
// Contract for every implementation:
//   - each call is atomic: it changes everything it says or nothing;
//   - a call that returns success has made its change durable (it survives
//     a crash or SIGKILL of the process right after);
//   - job status changes go through TransitionJob only, which checks the
//     state machine (core/job_state.h) and appends a JobEvent;
//   - every change the store makes on its own account (a run created, a job's
//     status, a dataset registered or hashed, a permit granted or revoked)
//     appends its audit record in the same transaction, so the audit log
//     never misses a change that happened nor records one that did not.
// Thread safety: implementations may be called from any thread.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit.h"
#include "core/error.h"
#include "core/ids.h"
#include "core/permit.h"
#include "core/release.h"
#include "core/types.h"

namespace sluss::core {

struct NewJob {
  std::string action;
  StatusCode status = StatusCode::kWaitingOnDependencies;
  std::string reason;
  std::string spec_json;
  std::string cache_key;
  std::vector<std::string> needs;  // action names of jobs in the same run
};

struct NewRun {
  std::string project;
  std::string commit;
  std::string ref;
  std::string trigger;
  std::string submitted_by;
  // When set, at most one run ever has this key ("push:p1:refs/heads/main:
  // <sha>"): CreateRun answers kAlreadyExists for a second one.
  std::string dedupe_key;
  // Validation errors of an invalid pipeline; such a run has no jobs and is
  // stored as failed.
  std::vector<std::string> errors;
  std::vector<NewJob> jobs;  // any order; `needs` must name jobs in this run
};

// Fields a transition may set with the status, in the same transaction.
struct JobUpdate {
  std::optional<std::string> node;
  std::optional<std::vector<std::string>> gpus;
  std::optional<std::string> result_json;
  std::optional<int> exit_code;
  std::optional<TimePoint> eligible_at;
  // The resources the attempt is placed with (set with `preparing`).
  std::optional<Resources> placed;
  // The bytes of the attempt's workspace (set with `preparing`); they
  // count as the project's disk while it runs.
  std::optional<std::int64_t> workspace_bytes;
  // UpdateJob only (a transition has its own): an executing job's reason,
  // as its executor tells it ("waiting in Slurm: Resources (partition
  // debug)"). kFailedPrecondition when the job is not executing.
  std::optional<std::string> reason;
};

// One status change of a batch (Store::TransitionJobs).
struct JobTransition {
  JobId id;
  StatusCode expected = StatusCode::kWaitingOnDependencies;
  StatusCode to = StatusCode::kWaitingOnDependencies;
  std::string reason;
  JobUpdate update;
};

// What the scheduler looks at each cycle: every pending and running job,
// and the status of each job they need.
struct ActiveJobs {
  struct Need {
    StatusCode status = StatusCode::kWaitingOnDependencies;
    std::string action;
  };
  std::vector<Job> jobs;  // by id
  std::map<JobId, Need> needs;
  // The last job event this listing includes: ListJobChanges(cursor) gives
  // what changed after it.
  std::int64_t cursor = 0;
};

struct RunFilter {
  std::optional<std::string> project;
  // When set, only runs of these projects (what a researcher may see).
  std::optional<std::vector<std::string>> projects;
  std::optional<RunState> state;
  // Only runs of this ref ("refs/heads/main").
  std::optional<std::string> ref;
  // Newest first. Page with `before`: the id of the last run already seen.
  std::optional<RunId> before;
  int limit = 50;
};

struct JobCount {
  std::string project;
  JobState state = JobState::kPending;
  std::int64_t count = 0;
};

// Accounting: a project's jobs that ended in a period, by who submitted
// their run and how they ended, with what they used (each job's last
// attempt, as its result records it).
struct UsageRow {
  std::string user;
  StatusCode status = StatusCode::kSucceeded;
  std::int64_t jobs = 0;
  double cpu_hours = 0;   // CPU time the jobs used
  double gpu_hours = 0;   // GPUs held x wall time
  double wall_hours = 0;  // wall time
};

class Store {
 public:
  virtual ~Store() = default;

  // Runs `change` and every store call it makes from this thread as one
  // transaction: all of them are kept, or none when `change` returns an
  // error (or throws). The API wraps each state change and its audit
  // record in one, so that a change whose record cannot be written is not
  // made. Other threads' calls wait until it ends, so `change` must be
  // short and must not wait on another thread that uses the store.
  virtual Result<void> Atomically(const std::function<Result<void>()>& change) = 0;

  // kAlreadyExists when a project with that name exists.
  virtual Result<void> CreateProject(const Project& project) = 0;
  virtual Result<Project> GetProject(std::string_view name) = 0;
  virtual Result<std::vector<Project>> ListProjects() = 0;
  // kNotFound for an unknown project.
  virtual Result<Project> UpdateQuota(std::string_view project,
                                      const Quota& quota) = 0;
  // The branches whose pushes make runs (empty: the default branch).
  // kNotFound for an unknown project.
  virtual Result<Project> UpdateBranches(std::string_view project,
                                         const std::vector<std::string>& branches) = 0;

  // Users are names ("alice@example.org"); created on first use.
  virtual Result<void> EnsureUser(std::string_view user, TimePoint now) = 0;
  // Idempotent. kNotFound for an unknown project or user.
  virtual Result<void> AddMember(std::string_view project,
                                 std::string_view user) = 0;
  virtual Result<void> RemoveMember(std::string_view project,
                                    std::string_view user) = 0;
  virtual Result<std::vector<std::string>> ListMembers(
      std::string_view project) = 0;
  virtual Result<std::vector<std::string>> ProjectsOf(
      std::string_view user) = 0;

  // Stores a token under the SHA-256 of its secret (hex). Returns it with
  // its id. kNotFound for an unknown user.
  virtual Result<Token> CreateToken(const Token& token,
                                    std::string_view secret_hash) = 0;
  // kNotFound when no token has this hash (revoked and expired ones are
  // found; the caller checks ValidAt).
  virtual Result<Token> FindToken(std::string_view secret_hash) = 0;
  virtual Result<std::vector<Token>> ListTokens(
      std::optional<std::string> user) = 0;
  virtual Result<void> RevokeToken(std::int64_t id, TimePoint now) = 0;

  // Creates the run, its jobs, their dependency edges and each job's first
  // event in one transaction. kNotFound for an unknown project;
  // kInvalidArgument for needs that name no job of the run, duplicate action
  // names or an initial status that IsValidInitialStatus refuses.
  virtual Result<Run> CreateRun(const NewRun& run, TimePoint now) = 0;
  virtual Result<Run> GetRun(RunId id) = 0;
  // kNotFound when no run has this dedupe key.
  virtual Result<Run> GetRunByDedupeKey(std::string_view key) = 0;
  virtual Result<std::vector<Run>> ListRuns(const RunFilter& filter) = 0;

  virtual Result<Job> GetJob(JobId id) = 0;
  virtual Result<std::vector<Job>> ListJobs(RunId run) = 0;
  // A page of a run's jobs, by id, after `after` (0: from the first), at
  // most `limit` (1 to 10,000); only those with one of `statuses` when it
  // is not empty. Each with its needs.
  virtual Result<std::vector<Job>> ListRunJobs(RunId run, std::int64_t after, int limit,
                                               const std::vector<StatusCode>& statuses) = 0;
  // How many of a run's jobs have each status (only those with some), from
  // the index: no job is read.
  virtual Result<std::map<StatusCode, std::int64_t>> CountRunJobs(RunId run) = 0;

  // Moves a job from `expected` to `to`, with a reason for people. kConflict
  // when the job's status is no longer `expected` (someone moved it first);
  // kFailedPrecondition when the state machine forbids the move. A retry
  // (failed or cancelled -> pending) starts the next attempt. The job's run
  // state is updated in the same transaction.
  Result<Job> TransitionJob(JobId id, StatusCode expected, StatusCode to,
                            std::string_view reason, TimePoint now) {
    return TransitionJob(id, expected, to, reason, now, JobUpdate{});
  }
  virtual Result<Job> TransitionJob(JobId id, StatusCode expected,
                                    StatusCode to, std::string_view reason,
                                    TimePoint now, const JobUpdate& update) = 0;
  // TransitionJob for each, in order, in one transaction (one fsync for a
  // whole scheduling cycle). Each succeeds or fails on its own, with what
  // TransitionJob would answer; a later one sees the earlier ones' effect.
  // The outer error: nothing was written.
  virtual Result<std::vector<Result<Job>>> TransitionJobs(const std::vector<JobTransition>& batch,
                                                          TimePoint now) = 0;
  // Sets fields of a job without changing its status: the result of an
  // attempt that was cancelled while it ran. Only when `attempt` is the
  // job's current attempt; kConflict otherwise.
  virtual Result<void> UpdateJob(JobId id, int attempt, const JobUpdate& update) = 0;
  virtual Result<ActiveJobs> ListActiveJobs() = 0;
  // Every job whose status changed after job event `after` (ActiveJobs::
  // cursor of an earlier listing), whatever its state now, with its needs
  // and their status, and the new cursor: the scheduler keeps its view of
  // the queue current from this, at a cost that grows with what changed,
  // not with what waits. A job's other fields change only with its status.
  virtual Result<ActiveJobs> ListJobChanges(std::int64_t after) = 0;
  virtual Result<std::vector<JobEvent>> ListJobEvents(JobId id) = 0;
  // A job of `project` with this cache key that succeeded (not itself
  // cached), whose outputs a new job may reuse.
  virtual Result<std::optional<JobId>> FindSucceededJob(std::string_view project,
                                                        std::string_view cache_key) = 0;
  // Small pieces of operator state that must survive restarts, as JSON
  // objects under a key: "queue" (paused or not), "node/<name>" (drained or
  // not). kNotFound for a key never set.
  virtual Result<void> PutSetting(std::string_view key, std::string_view json_value,
                                  TimePoint now) = 0;
  virtual Result<std::string> GetSetting(std::string_view key) = 0;

  // Jobs by project and coarse state (empty project: all projects).
  virtual Result<std::vector<JobCount>> CountJobs(std::string_view project) = 0;
  // Jobs of PROJECT that ended in [from, until), grouped by user and status.
  virtual Result<std::vector<UsageRow>> AccountJobs(std::string_view project, TimePoint from,
                                                    TimePoint until) = 0;
  // Every project with jobs, by name.
  virtual Result<std::map<std::string, ProjectDisk>> DiskByProject() = 0;

  // The audit log (core/audit.h). Append-only: the store seals each record
  // (sequence, chain) in the transaction that appends it.
  virtual Result<AuditRecord> AppendAudit(const AuditEvent& event, TimePoint now) = 0;
  // Records with seq > after, in order, at most `limit`.
  virtual Result<std::vector<AuditRecord>> ListAudit(std::int64_t after, int limit) = 0;
  // The sequence number of the last record (0: none yet).
  virtual Result<std::int64_t> AuditSize() = 0;
  // The record hashes of records 1..n, in order (the Merkle tree's leaves).
  virtual Result<std::vector<Sha256Digest>> AuditLeaves(std::int64_t n) = 0;
  // kAlreadyExists for a second checkpoint of the same size.
  virtual Result<void> AddAuditCheckpoint(const AuditCheckpoint& checkpoint) = 0;
  virtual Result<std::vector<AuditCheckpoint>> ListAuditCheckpoints() = 0;
  // Deletes the payloads of records older than `before` (retention); the
  // records, their hashes and the tree stay. Returns how many went.
  virtual Result<std::int64_t> PurgeAuditPayloads(TimePoint before) = 0;

  // Dataset versions. kAlreadyExists for a name and version registered
  // before (versions are immutable); audited as dataset.registered.
  virtual Result<void> CreateDataset(const DatasetVersion& dataset, TimePoint now) = 0;
  // Updates state, id, counts, error and verified_at; a change of state or
  // of verified_at is audited (dataset.ready, dataset.failed,
  // dataset.verified) with `actor`.
  virtual Result<void> UpdateDataset(const DatasetVersion& dataset, std::string_view actor,
                                     TimePoint now) = 0;
  virtual Result<DatasetVersion> GetDataset(std::string_view name, std::string_view version) = 0;
  virtual Result<std::vector<DatasetVersion>> ListDatasets() = 0;

  // Permits. kAlreadyExists for a used id, kNotFound for an unknown
  // project; audited as permit.granted by permit.granted_by.
  virtual Result<Permit> CreatePermit(const Permit& permit, TimePoint now) = 0;
  virtual Result<Permit> GetPermit(std::string_view id) = 0;
  // Empty project: every project's.
  virtual Result<std::vector<Permit>> ListPermits(std::string_view project) = 0;
  // kFailedPrecondition when already revoked; audited as permit.revoked.
  virtual Result<Permit> RevokePermit(std::string_view id, std::string_view by,
                                      std::string_view reason, TimePoint now) = 0;

  // Release requests (the record only: their moves are the airlock's).
  // CreateRelease gives the id and version 1; kAlreadyExists when the
  // author has an open request in the project (core::IsOpenReleaseState).
  virtual Result<Release> CreateRelease(const Release& release) = 0;
  virtual Result<Release> GetRelease(std::int64_t id) = 0;
  // Empty project or author: any. Newest first.
  virtual Result<std::vector<Release>> ListReleases(std::string_view project,
                                                    std::string_view author) = 0;
  // Stores `release` (its version bumped) when the stored version is still
  // `release.version`; kConflict when someone changed it meanwhile.
  virtual Result<Release> UpdateRelease(const Release& release) = 0;
};

}  // namespace sluss::core
