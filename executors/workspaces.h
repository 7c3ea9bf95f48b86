#pragma once

// Workspaces: the code of a commit, exported once and shared by all of that
// commit's jobs (every attempt, on this host or, through the shared state
// directory, on Slurm's nodes). The sandbox mounts it read-only into each
// job, and its files are root's (0644, 0755): nothing in it is writable by a
// job, so sharing it shares nothing one job could change for another.
//
// A workspace is kept while a job of its commit is pending or running, and
// swept after: Sweep compares the directory with the store's pending and
// running runs (a run is one of those while any of its jobs is).
// At start nothing is in use, so a crash leaves nothing for longer than
// until the next start's sweep.
//
// Thread-safe: Get (the engine) and Sweep (the housekeeper) share a mutex,
// held by Sweep only while it moves the unneeded ones aside.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/git_service.h"
#include "core/store.h"

namespace sluss::executors {

struct Workspace {
  std::string path;
  std::int64_t bytes = 0;  // its regular files' bytes (counted as the project's disk)
};

class Workspaces {
 public:
  // `dir` is absolute and root's; `git` must outlive this.
  Workspaces(std::string dir, core::GitService* git);

  // The workspace of `project` at `commit`, exported if there is none yet
  // (made aside and renamed into place: whole or absent). Export warnings
  // (submodules, LFS pointers) are logged, once per export. Errors are
  // ExportWorkspace's (kResourceExhausted: over git.max_workspace).
  core::Result<Workspace> Get(std::string_view project, std::string_view commit);

  // Removes every workspace that no pending or running run needs (and what
  // an export interrupted by a crash left, and the per-attempt workspaces of
  // slussd versions before this one whose job has ended). A workspace
  // handed out by Get after this began listing the runs is kept. Returns
  // how many were removed.
  core::Result<int> Sweep(core::Store& store);

  // The directory name of `project`'s workspace at `commit`.
  static std::string Name(std::string_view project, std::string_view commit);
  // Whether `path` is a shared workspace (the sweep's to remove), not the
  // per-attempt one of an older slussd (removed when its job ends).
  static bool IsShared(const std::string& path);

 private:
  const std::string dir_;
  core::GitService* const git_;
  std::mutex mu_;
  // Per workspace name: when Get last handed it out, and its bytes.
  std::map<std::string, std::chrono::steady_clock::time_point> used_;  // GUARDED_BY(mu_)
  std::map<std::string, std::int64_t> bytes_;                          // GUARDED_BY(mu_)
  std::uint64_t exports_ = 0;                                          // GUARDED_BY(mu_)
};

}  // namespace sluss::executors
