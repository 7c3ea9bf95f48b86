#include "executors/router.h"

#include <filesystem>

#include "core/strings.h"
#include "executors/local.h"

namespace sluss::executors {

using core::StrCat;

RouterExecutor::RouterExecutor(std::string jobs_dir, Callbacks callbacks)
    : jobs_dir_(std::move(jobs_dir)), callbacks_(std::move(callbacks)) {}

RouterExecutor::~RouterExecutor() {
  // Their poll and watch threads report through this router: stop them
  // while it is whole.
  while (!owned_.empty()) owned_.pop_back();
}

core::Executor::Callbacks RouterExecutor::PoolCallbacks() {
  Callbacks cb;
  cb.started = [this](core::JobId job, int attempt) {
    if (callbacks_.started) callbacks_.started(job, attempt);
  };
  cb.finished = [this](core::JobId job, int attempt, const core::JobOutcome& outcome) {
    {
      std::lock_guard lock(mu_);
      attempts_.erase({job, attempt});
    }
    if (callbacks_.finished) callbacks_.finished(job, attempt, outcome);
  };
  return cb;
}

core::Executor* RouterExecutor::Own(std::unique_ptr<core::Executor> executor) {
  owned_.push_back(std::move(executor));
  return owned_.back().get();
}

void RouterExecutor::Route(const std::string& name, const std::string& kind,
                           core::Executor* executor) {
  pools_.push_back({name, Pool{kind, executor}});
}

const RouterExecutor::Pool* RouterExecutor::PoolOf(const std::string& name) const {
  for (const auto& [n, p] : pools_)
    if (n == name) return &p;
  return nullptr;
}

const RouterExecutor::Pool* RouterExecutor::FirstOfKind(const std::string& kind) const {
  for (const auto& [n, p] : pools_)
    if (p.kind == kind) return &p;
  return nullptr;
}

core::Executor* RouterExecutor::ExecutorOf(core::JobId job, int attempt) const {
  std::lock_guard lock(mu_);
  auto it = attempts_.find({job, attempt});
  return it == attempts_.end() ? nullptr : it->second;
}

core::Result<void> RouterExecutor::Launch(const core::LaunchRequest& request) {
  const Pool* pool = PoolOf(request.node);
  if (!pool)
    return core::Fail(core::ErrorCode::kFailedPrecondition,
        StrCat("pool ", core::Quote(request.node), " is not in slussd's config (pools:)"));
  {
    std::lock_guard lock(mu_);
    attempts_[{request.job, request.attempt}] = pool->executor;
  }
  auto launched = pool->executor->Launch(request);
  if (!launched) {
    std::lock_guard lock(mu_);
    attempts_.erase({request.job, request.attempt});
  }
  return launched;
}

core::Result<void> RouterExecutor::Cancel(core::JobId job, int attempt, CancelMode mode) {
  if (core::Executor* e = ExecutorOf(job, attempt)) return e->Cancel(job, attempt, mode);
  // Not one this router launched or adopted (ended): each executor stops
  // it if it runs there, and does nothing otherwise (the port's contract).
  for (const auto& o : owned_)
    if (auto r = o->Cancel(job, attempt, mode); !r) return r;
  return {};
}

std::vector<core::RunningAttempt> RouterExecutor::Reattach(
    const std::vector<core::RunningAttempt>& running) {
  std::map<core::Executor*, std::vector<core::RunningAttempt>> groups;
  std::vector<std::pair<core::RunningAttempt, std::string>> orphans;
  for (const auto& a : running) {
    const Pool* pool = PoolOf(a.node);
    if (!pool) {
      // Its pool left the config: Slurm's intent in its directory says a
      // Slurm executor submitted it; otherwise it ran here, under sluss-run.
      std::error_code ec;
      const std::string dir = AttemptDir(jobs_dir_, a.job, a.attempt, a.attempt_key);
      const std::string kind = std::filesystem::exists(dir + "/slurm.json", ec) ? "slurm" : "local";
      pool = FirstOfKind(kind);
      if (!pool) {
        orphans.emplace_back(a, kind);
        continue;
      }
    }
    groups[pool->executor].push_back(a);
    std::lock_guard lock(mu_);
    attempts_[{a.job, a.attempt}] = pool->executor;
  }
  std::vector<core::RunningAttempt> never;
  for (auto& [executor, attempts] : groups)
    for (auto& a : executor->Reattach(attempts)) never.push_back(std::move(a));
  for (const auto& [a, kind] : orphans) {
    core::JobOutcome o;
    o.status = core::StatusCode::kInternalError;
    o.message = StrCat("pool ", core::Quote(a.node), " is no longer in slussd's config and no ",
                       kind, " pool is left to watch this attempt: it may still be running, so "
                       "it is not retried (it must never run twice); put the pool back to "
                       "follow it, or check it and retry the job by hand");
    if (callbacks_.finished) callbacks_.finished(a.job, a.attempt, o);
  }
  return never;
}

std::vector<std::string> RouterExecutor::LogFiles(core::JobId job, int attempt,
                                                  const std::string& attempt_key,
                                                  const std::string& stream) const {
  if (core::Executor* e = ExecutorOf(job, attempt))
    return e->LogFiles(job, attempt, attempt_key, stream);
  for (const auto& o : owned_)
    if (auto files = o->LogFiles(job, attempt, attempt_key, stream); !files.empty()) return files;
  return {};
}

}  // namespace sluss::executors
