#pragma once

// The domain's value types. Plain data: no I/O, no behaviour beyond what
// keeps them consistent. The store persists them; the API prints them.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/ids.h"
#include "core/job_state.h"
#include "core/time.h"

namespace sluss::core {

// What a job asks for, or what a node has. Unset optional fields in a
// request take the project's or the node's defaults.
struct Resources {
  int gpus = 0;
  std::int64_t milli_cpus = 0;
  std::int64_t memory_bytes = 0;
  std::chrono::seconds time_limit{0};
  std::int64_t disk_bytes = 0;  // writable space for outputs
  auto operator<=>(const Resources&) const = default;
};

struct ResourceRequest {
  std::optional<int> gpus;
  std::optional<std::int64_t> milli_cpus;
  std::optional<std::int64_t> memory_bytes;
  std::optional<std::chrono::seconds> time_limit;
  std::optional<std::int64_t> disk_bytes;
  bool operator==(const ResourceRequest&) const = default;
};

// A dataset named by a job: "prescriptions", or pinned "prescriptions@2026-06".
struct DatasetRef {
  std::string name;
  std::string version;  // empty: the newest version the permit allows
  bool operator==(const DatasetRef&) const = default;
  std::string ToString() const {
    return version.empty() ? name : name + "@" + version;
  }
};

// Per-project limits, set at runtime by admins. Unset means unlimited.
struct Quota {
  struct Totals {
    std::optional<int> gpus;
    std::optional<std::int64_t> milli_cpus;
    std::optional<std::int64_t> memory_bytes;
    // The project's disk: what its jobs' outputs keep and the workspaces
    // of its running jobs hold. Reached: new jobs wait (waiting_on_quota).
    std::optional<std::int64_t> disk_bytes;
    bool operator==(const Totals&) const = default;
  };
  struct PerUser {
    std::optional<int> max_running_jobs;
    std::optional<int> max_gpus;
    bool operator==(const PerUser&) const = default;
  };
  struct PerJob {
    std::optional<int> max_gpus;
    std::optional<std::chrono::seconds> max_time;
    std::optional<std::int64_t> max_memory_bytes;
    // Output space (resources.disk) a job may ask for; unset: the node's
    // output limit (sandbox.output_limit), never unlimited.
    std::optional<std::int64_t> max_disk_bytes;
    bool operator==(const PerJob&) const = default;
  };
  struct Budget {
    double gpu_hours = 0;
    std::string period = "month";  // "day", "week", "month"
    bool operator==(const Budget&) const = default;
  };
  Totals max;
  PerUser per_user;
  PerJob per_job;
  std::optional<int> max_running_jobs;
  std::optional<int> max_queued_jobs;
  std::optional<Budget> budget;
  double fairshare_weight = 1.0;
  bool operator==(const Quota&) const = default;
};

// A project's disk now: the outputs its jobs' last attempts kept (each
// attempt's outputs stay), and the workspaces of its running jobs (one per
// commit, shared by that commit's jobs, each counted once).
struct ProjectDisk {
  std::int64_t outputs_bytes = 0;
  std::int64_t workspaces_bytes = 0;
  std::int64_t total() const { return outputs_bytes + workspaces_bytes; }
};

struct Project {
  std::string name;  // [a-z0-9][a-z0-9-]*, the id
  std::string description;
  std::string repo_url;                  // empty until gitsync is set up
  std::vector<std::string> branches;     // tracked; empty: the default branch
  Quota quota;
  TimePoint created_at;
};

// A container image: a directory root filesystem registered by an admin,
// identified by the digest of its file manifest.
struct Image {
  std::string name;
  std::string digest;  // "sha256:..."
  std::string rootfs;  // host path; never shown to researchers
  TimePoint registered_at;
  // The `host` image: this host's /usr (and these directories) bound
  // read-only over a tiny root.
  std::vector<std::string> host_binds;
  bool host = false;
  std::string source = "config";  // "config" or "api"
  std::string registered_by;
};

struct Node {
  enum class State { kUp, kDrained, kDown };
  std::string name;
  Resources capacity;
  std::vector<int> gpu_ids;
  State state = State::kUp;
};

enum class RunState { kPending, kRunning, kSucceeded, kFailed, kCancelled };
std::string_view Name(RunState state);
std::optional<RunState> ParseRunState(std::string_view name);

// The state of a run follows from its jobs: failed when the pipeline was
// invalid (no jobs) or any job failed and none can still run; running when
// any job runs; and so on. `invalid` is true for a run whose pipeline did
// not validate.
RunState DeriveRunState(const std::vector<StatusCode>& job_codes,
                        bool invalid);

struct Run {
  RunId id;
  std::string project;
  std::string commit;        // 40 hex digits, or empty for API runs
  std::string ref;           // "refs/heads/main"
  std::string trigger;       // "push", "api", "poll", "webhook"
  std::string submitted_by;  // person (token user or commit author)
  RunState state = RunState::kPending;
  // For a run whose sluss.yaml did not validate: the "file:line:col: msg"
  // diagnostics; such a run has no jobs.
  std::vector<std::string> errors;
  TimePoint created_at;
  TimePoint updated_at;
};

struct Job {
  JobId id;
  RunId run_id;
  std::string project;
  std::string action;
  StatusCode status = StatusCode::kWaitingOnDependencies;
  std::string reason;  // for people: "waiting_on_quota: project p1 uses 4 of 4 GPUs"
  int attempt = 1;
  std::string spec_json;   // the canonical action spec (see pipeline.h)
  std::string cache_key;   // "sha256:..."
  std::vector<JobId> needs;
  TimePoint created_at;
  TimePoint updated_at;
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> ended_at;
  std::optional<int> exit_code;
  std::string node;               // where the current attempt runs or ran
  std::vector<std::string> gpus;  // the GPUs it was given there
  // The executor's record of the last attempt that ended (sluss-run's
  // result.json: usage, outputs with SHA-256, runtime); empty before.
  std::string result_json;
  // A retried job waits until then (exponential backoff).
  std::optional<TimePoint> eligible_at;
  // What the current (or last) attempt was placed with: the resources the
  // sandbox enforces, fixed at its start (a quota lowered later changes
  // nothing for it). Empty before its first start.
  std::optional<Resources> placed;

  JobState state() const { return StateOf(status); }
};

struct JobEvent {
  JobEventId id;
  JobId job_id;
  TimePoint at;
  std::optional<StatusCode> from;  // empty for the creating event
  StatusCode to = StatusCode::kWaitingOnDependencies;
  std::string reason;
  int attempt = 1;
};

}  // namespace sluss::core

namespace sluss::core {

// What a person may do. A token carries one role; see docs/operations.md for
// what each may call.
// kHook: the token of a hosted repository's post-receive hook, which may
// only tell slussd about pushes to its own project.
enum class Role { kResearcher, kSteward, kAdmin, kChecker, kAuditor, kHook };
inline constexpr int kRoleCount = 6;
std::string_view Name(Role role);
std::optional<Role> ParseRole(std::string_view name);

// An API token. The secret itself is never stored: only its SHA-256.
struct Token {
  std::int64_t id = 0;
  std::string user;
  Role role = Role::kResearcher;
  std::string name;  // what it is for: "laptop", "post-receive hook"
  TimePoint created_at;
  std::optional<TimePoint> expires_at;
  std::optional<TimePoint> revoked_at;
  std::optional<TimePoint> last_used_at;

  bool ValidAt(TimePoint now) const {
    return !revoked_at && (!expires_at || now < *expires_at);
  }
};

// Project names: 1-63 of [a-z0-9-], starting with a letter or digit. They
// appear in URLs, paths and cgroup names, so nothing else is allowed.
Result<void> CheckProjectName(std::string_view name);
}  // namespace sluss::core
