#pragma once

// The planner: a pure function from a snapshot of the queue, the nodes and
// the quotas to decisions (start this job on that node with those GPUs; for
// every job left pending, a reason a person can act on). No I/O, no clock,
// no threads: the engine gathers the snapshot and carries the decisions out.
//
// Policy, in order:
//   1. DAG: a job is ready when every job it needs succeeded; when one
//      failed or was cancelled, it fails as dependency_failed.
//   2. Fair share: among ready jobs, the project with the lowest
//      (decayed usage + what it runs now) / weight goes next, then age.
//   3. Quotas: a job whose project (or user) would exceed a limit waits,
//      naming the limit; other jobs of the project may still fit.
//   4. Placement: on a node (a pool) that takes the job's project and has
//      room: best fit on GPUs, then first fit; GPUs chosen lowest first. A
//      job no such node could ever hold waits, naming each node's size.
//   5. Backfill: the first job that cannot start for lack of resources gets
//      a reservation at the earliest time running jobs' limits free enough;
//      a later job may start now only if it ends before that, or does not
//      touch what the reservation needs.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/ids.h"
#include "core/job_state.h"
#include "core/time.h"
#include "core/types.h"

namespace sluss::scheduler {

struct PendingJob {
  core::JobId id;
  std::string project;
  std::string user;    // who submitted the run
  std::string action;
  core::StatusCode status = core::StatusCode::kWaitingOnDependencies;
  std::string reason;
  core::Resources request;  // gpus, milli_cpus, memory_bytes, time_limit
  std::vector<core::JobId> needs;
  core::TimePoint submitted_at;
  std::optional<core::TimePoint> eligible_at;  // retry backoff
  int priority = 0;  // within its project: higher first, then older first
};

struct RunningJob {
  core::JobId id;
  std::string project;
  std::string user;
  std::string node;
  core::Resources request;
  std::vector<int> gpus;
  core::TimePoint started_at;
};

struct NodeState {
  std::string name;
  core::Resources capacity;  // gpus is ignored: `gpus` lists them
  std::vector<int> gpus;
  // The name of each GPU slot as nvidia-ctk gives it (an index, GPU-<uuid>,
  // MIG 0:1), stored in job rows; empty: the slot's number.
  std::vector<std::string> gpu_names;
  bool schedulable = true;   // false: drained or down
  // The projects whose jobs it takes (a pool's `projects:`); empty: all.
  std::vector<std::string> projects;
};

struct ProjectState {
  core::Quota quota;
  double usage = 0;  // decayed, in CPU-core-hours + 10 × GPU-hours
  // GPU-hours of jobs that ended in the budget's current period. Running
  // jobs count with their whole reservation (GPUs × time limit), so a job
  // starts only if it may finish within the budget; when one ends, its
  // reservation gives way to what it used.
  double gpu_hours_spent = 0;
  // An admin paused the project: none of its jobs start; running ones go on.
  bool paused = false;
  std::string paused_reason;
  // Its disk now (outputs kept and running jobs' workspaces); set when
  // its quota has max.disk.
  core::ProjectDisk disk;
};

struct NeedStatus {
  core::StatusCode status = core::StatusCode::kWaitingOnDependencies;
  std::string action;
};

struct Snapshot {
  std::vector<PendingJob> pending;
  std::vector<RunningJob> running;
  std::vector<NodeState> nodes;
  std::map<std::string, ProjectState> projects;
  std::map<core::JobId, NeedStatus> needs;
  bool paused = false;
  // Non-empty: a file system slussd writes to is under its reserve; no job
  // starts, and each waits with this reason ("waiting_on_disk: ...").
  std::string disk_short;
};

struct Start {
  core::JobId job;
  std::string node;
  std::vector<int> gpus;
  // What the job runs with: the request the planner counted, which the
  // sandbox enforces (CPU quota, memory limit, wall clock, output space).
  core::Resources resources;
};

struct Wait {
  core::JobId job;
  core::StatusCode code = core::StatusCode::kWaitingOnResources;
  std::string reason;
};

struct DependencyFailed {
  core::JobId job;
  std::string reason;
};

struct Decisions {
  std::vector<Start> starts;
  // Every pending job not started, except held ones and, while the queue
  // is paused, ready ones whose reason still holds (they keep it).
  std::vector<Wait> waits;
  std::vector<DependencyFailed> dependency_failed;
};

Decisions Plan(const Snapshot& snapshot, core::TimePoint now);

// What one job's resources weigh in fair share: CPU cores + 10 × GPUs.
double Weight(const core::Resources& r);

}  // namespace sluss::scheduler
