#pragma once

// slussd's node pools (Config::pools) made real: each pool's name and
// capacity resolved (this host's, the CDI spec's GPUs, sinfo's), and the
// executors behind them wired into one RouterExecutor. Wiring only: the
// policy is the planner's, the running the executors'.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/api.h"
#include "core/executor.h"
#include "core/store.h"
#include "core/types.h"
#include "daemon/config.h"
#include "executors/local.h"
#include "executors/router.h"
#include "executors/slurm.h"
#include "scheduler/planner.h"

namespace sluss::daemon {

struct ResolvedPools {
  std::vector<core::Node> nodes;             // for the API (/v1/nodes)
  std::map<std::string, api::PoolInfo> info;  // ditto: executor, projects
  std::vector<scheduler::NodeState> states;  // for the engine
  std::map<std::string, std::vector<std::string>> gpu_names;  // by pool
  core::Resources largest;  // each resource's largest over the pools: admission's bound
};

// A pool without a name (the shorthand) is this host's name. Local pools
// without cpus/memory have this host's; without gpus, the CDI spec's when
// it is the only local pool, else none. Slurm pools without cpus or memory
// ask `sinfo` (through `runner`, which may be null when no pool is Slurm's).
// Errors name the pool.
core::Result<ResolvedPools> ResolvePools(const Config& cfg, const std::string& state_dir,
                                         executors::SlurmRunner* runner);

// One LocalExecutor for every local pool (they share this host), one
// SlurmExecutor per Slurm pool, behind a router that reports to `engine`.
// `local` is the sandbox as on this host. Slurm's word on a job (why it
// waits, where it runs) becomes the job's reason in `store`. Fails when a
// Slurm pool's clients do not answer.
core::Result<std::unique_ptr<executors::RouterExecutor>> MakeExecutors(
    const Config& cfg, const executors::LocalOptions& local, core::Executor::Callbacks engine,
    core::Store& store);

}  // namespace sluss::daemon
