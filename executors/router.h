#pragma once

// The router: one Executor over several, one per node pool (slussd's
// `pools:`). The planner places each job on a pool and the job row names
// it; the router sends the attempt to that pool's executor, and cancels,
// log files and re-attaching back to the one that has it. Several pools
// may share one executor (two local pools on one host share one
// LocalExecutor). It holds no scheduling policy.
//
// A pool removed from the config while attempts ran there: after the
// restart, each such attempt is adopted by an executor of the kind that ran
// it (Slurm's find it by name, the local one by its directory on this host)
// and runs on; when none of that kind remains, it is reported ended as
// internal_error, which is never retried: it may still be running, and a
// retry elsewhere could run it twice.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/executor.h"

namespace sluss::executors {

class RouterExecutor final : public core::Executor {
 public:
  // `callbacks` are the engine's; `jobs_dir` holds every attempt's
  // directory (shared by all executors: a Slurm attempt is one with
  // Slurm's intent there).
  RouterExecutor(std::string jobs_dir, Callbacks callbacks);
  ~RouterExecutor() override;
  RouterExecutor(const RouterExecutor&) = delete;
  RouterExecutor& operator=(const RouterExecutor&) = delete;

  // What each pool's executor must be built with: the engine's callbacks,
  // through the router (which forgets an attempt once it ended).
  Callbacks PoolCallbacks();
  // Takes an executor; returns it, for Route. Destroyed first when the
  // router is (its threads may still report through the router).
  core::Executor* Own(std::unique_ptr<core::Executor> executor);
  // Sends the attempts of pool `name` to `executor` (owned, or outliving
  // the router); `kind` is "local" or "slurm". REQUIRES: before Reattach
  // or Launch; names unique.
  void Route(const std::string& name, const std::string& kind, core::Executor* executor);

  // kFailedPrecondition when request.node is no pool.
  core::Result<void> Launch(const core::LaunchRequest& request) override;
  core::Result<void> Cancel(core::JobId job, int attempt, CancelMode mode) override;
  std::vector<core::RunningAttempt> Reattach(
      const std::vector<core::RunningAttempt>& running) override;
  std::vector<std::string> LogFiles(core::JobId job, int attempt, const std::string& attempt_key,
                                    const std::string& stream) const override;

 private:
  struct Pool {
    std::string kind;
    core::Executor* executor = nullptr;
  };
  const Pool* PoolOf(const std::string& name) const;
  const Pool* FirstOfKind(const std::string& kind) const;
  core::Executor* ExecutorOf(core::JobId job, int attempt) const;

  std::string jobs_dir_;
  Callbacks callbacks_;
  std::vector<std::unique_ptr<core::Executor>> owned_;
  std::vector<std::pair<std::string, Pool>> pools_;  // in config order
  mutable std::mutex mu_;
  std::map<std::pair<core::JobId, int>, core::Executor*> attempts_;  // GUARDED_BY(mu_)
};

}  // namespace sluss::executors
