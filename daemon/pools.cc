#include "daemon/pools.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "core/quantity.h"
#include "core/strings.h"
#include "daemon/sinfo.h"
#include "logging/log.h"
#include "sandbox/gpu.h"

namespace sluss::daemon {

using core::StrCat;
using logging::Log;
using logging::LogLevel;

core::Result<ResolvedPools> ResolvePools(const Config& cfg, const std::string& state_dir,
                                         executors::SlurmRunner* runner) {
  ResolvedPools out;
  const auto local_count = std::count_if(cfg.pools.begin(), cfg.pools.end(),
                                         [](const PoolConfig& p) { return p.executor == "local"; });
  const std::int64_t host_cpus =
      1000LL * static_cast<long long>(std::max(1u, std::thread::hardware_concurrency()));
  const std::int64_t host_memory =
      std::max<long long>(0, static_cast<long long>(sysconf(_SC_PHYS_PAGES)) *
                                     sysconf(_SC_PAGE_SIZE) - (1LL << 30));
  std::int64_t local_cpus = 0;
  for (const PoolConfig& p : cfg.pools) {
    core::Node node;
    node.name = p.name;
    if (node.name.empty()) {
      char host[256] = {};
      gethostname(host, sizeof host - 1);
      node.name = host;
    }
    out.info[node.name] = {p.executor, p.projects};
    std::vector<std::string> gpus;
    if (p.executor == "local") {
      node.capacity.milli_cpus = p.milli_cpus ? p.milli_cpus : host_cpus;
      node.capacity.memory_bytes = p.memory_bytes ? p.memory_bytes : host_memory;
      local_cpus += node.capacity.milli_cpus;
      // Unnamed GPUs are every GPU of the CDI spec only where one local
      // pool could take them: two would hand out the same GPU.
      if (p.gpus || local_count == 1) {
        auto names = sandbox::NodeGpus(p.gpus, cfg.sandbox.cdi_spec, {state_dir});
        if (!names) return core::Fail(names.error().code, StrCat("pool ", node.name, ": ", names.error().message));
        gpus = *names;
      }
    } else {
      node.capacity.milli_cpus = p.milli_cpus;
      node.capacity.memory_bytes = p.memory_bytes;
      if (!p.milli_cpus || !p.memory_bytes) {
        if (!runner) return core::Internal("no Slurm runner for a Slurm pool");
        auto sinfo = runner->Run({"sinfo", "-h", "-o", kSinfoFormat});
        if (sinfo.status != 0)
          return core::Fail(core::ErrorCode::kUnavailable,
                            StrCat("pool ", node.name, ": sinfo failed (exit ", sinfo.status,
                                   "): ", sinfo.text, " (or set the pool's cpus and memory)"));
        auto cap = SinfoCapacity(sinfo.text, p.partition);
        if (!cap)
          return core::Fail(cap.error().code, StrCat("pool ", node.name, ": ", cap.error().message));
        if (!p.milli_cpus) node.capacity.milli_cpus = cap->milli_cpus;
        if (!p.memory_bytes) node.capacity.memory_bytes = cap->memory_bytes;
      }
      // GPUs on Slurm: how many sluss admits at once; which ones a job
      // gets is Slurm's choice (--gres), read by sluss-run on the node.
      if (p.gpus) gpus = *p.gpus;
    }
    for (std::size_t i = 0; i < gpus.size(); ++i) node.gpu_ids.push_back(static_cast<int>(i));
    node.capacity.gpus = static_cast<int>(gpus.size());
    if (!gpus.empty()) {
      std::error_code ec;
      const bool spec = std::filesystem::exists(cfg.sandbox.cdi_spec, ec);
      Log(spec ? LogLevel::kInfo : LogLevel::kWarn,
          StrCat("pool=", node.name, " gpus=", core::Join(gpus, ","), " cdi_spec=",
                 cfg.sandbox.cdi_spec,
                 spec ? "" : " (missing: GPU jobs fail at start until nvidia-ctk cdi "
                             "generate writes it)"));
    }
    Log(LogLevel::kInfo,
        StrCat("pool=", node.name, " executor=", p.executor, " cpus=",
               core::FormatMilliCpus(node.capacity.milli_cpus), " memory=",
               core::FormatBytes(node.capacity.memory_bytes), " gpus=", gpus.size(),
               p.projects.empty() ? std::string() : StrCat(" projects=", core::Join(p.projects, ","))));
    scheduler::NodeState s;
    s.name = node.name;
    s.capacity = node.capacity;
    s.gpus = node.gpu_ids;
    s.gpu_names = gpus;
    s.projects = p.projects;
    out.largest.milli_cpus = std::max(out.largest.milli_cpus, node.capacity.milli_cpus);
    out.largest.memory_bytes = std::max(out.largest.memory_bytes, node.capacity.memory_bytes);
    out.largest.gpus = std::max(out.largest.gpus, node.capacity.gpus);
    out.gpu_names[node.name] = gpus;
    out.states.push_back(std::move(s));
    out.nodes.push_back(std::move(node));
  }
  if (local_cpus > host_cpus)
    Log(LogLevel::kWarn, StrCat("local pools offer ", core::FormatMilliCpus(local_cpus),
                                " CPUs together, this host has ", core::FormatMilliCpus(host_cpus),
                                ": their jobs may be slower than they asked"));
  return out;
}

core::Result<std::unique_ptr<executors::RouterExecutor>> MakeExecutors(
    const Config& cfg, const executors::LocalOptions& local, core::Executor::Callbacks engine,
    core::Store& store) {
  auto router = std::make_unique<executors::RouterExecutor>(local.jobs_dir, std::move(engine));
  core::Executor* local_executor = nullptr;
  bool pinged = false;
  for (const PoolConfig& p : cfg.pools) {
    std::string name = p.name;
    if (name.empty()) {
      char host[256] = {};
      gethostname(host, sizeof host - 1);
      name = host;
    }
    if (p.executor == "local") {
      if (!local_executor)
        local_executor = router->Own(
            std::make_unique<executors::LocalExecutor>(local, router->PoolCallbacks()));
      router->Route(name, "local", local_executor);
      continue;
    }
    // Each attempt a Slurm batch job running the same sluss-run on the
    // same job directory (which the nodes must share).
    if (!cfg.slurm.conf.empty()) ::setenv("SLURM_CONF", cfg.slurm.conf.c_str(), 1);
    executors::SlurmOptions slurm;
    slurm.node = local;
    slurm.partition = p.partition;
    slurm.account = p.account;
    slurm.qos = p.qos;
    slurm.accounting = cfg.slurm.accounting;
    slurm.poll_interval = std::chrono::seconds(cfg.slurm.poll_seconds);
    slurm.lost_grace = std::chrono::seconds(cfg.slurm.lost_grace_seconds);
    // Slurm's word on a job (why it waits, where it runs) in the job's
    // reason: one write when it changes, none per poll. (Its node stays
    // the pool's: the planner counts what runs there.)
    slurm.progress = [&store](core::JobId job, int attempt, const std::string& reason) {
      core::JobUpdate update;
      update.reason = reason;
      return store.UpdateJob(job, attempt, update).has_value();
    };
    slurm.log = [](const std::string& m) { Log(LogLevel::kWarn, m); };
    auto runner = executors::MakeProcessRunner();
    if (!pinged) {
      // Refused at start, not at the first job: Slurm's clients must answer.
      auto ping = runner->Run({"squeue", "--me", "-h", "-o", "%i"});
      if (ping.status != 0)
        return core::Fail(core::ErrorCode::kUnavailable,
                          StrCat("pool ", name, " (executor: slurm): squeue does not answer (exit ",
                                 ping.status, "): ", ping.text,
                                 " (is Slurm installed and SLURM_CONF or slurm.conf set?)"));
      pinged = true;
    }
    router->Route(name, "slurm",
                  router->Own(std::make_unique<executors::SlurmExecutor>(
                      slurm, router->PoolCallbacks(), std::move(runner))));
  }
  return router;
}

}  // namespace sluss::daemon
