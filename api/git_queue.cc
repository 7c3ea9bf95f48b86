#include "api/internal/git_queue.h"

#include <algorithm>

#include "core/strings.h"

namespace sluss::api::internal {

nlohmann::json View(const GitRequest& r) {
  return {{"id", r.id},
          {"project", r.project},
          {"kind", r.kind},
          {"submitted_by", r.submitted_by},
          {"status", r.status},
          {"queued_at", core::FormatRfc3339(r.queued_at)},
          {"result", r.result}};
}

GitQueue::GitQueue(std::size_t threads, std::size_t max_queued, std::size_t max_per_project,
                   std::size_t keep)
    : max_queued_(max_queued), max_per_project_(max_per_project), keep_(keep) {
  for (std::size_t i = 0; i < std::max<std::size_t>(1, threads); ++i) {
    threads_.emplace_back([this] { Loop(); });
  }
}

GitQueue::~GitQueue() { Shutdown(); }

void GitQueue::Shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (const auto& [id, unused] : waiting_) {
      GitRequest& r = requests_.at(id);
      r.status = "failed";
      r.result = {{"code", "unavailable"}, {"message", "slussd stopped before it ran"}};
    }
    waiting_.clear();
  }
  wake_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

core::Result<GitRequest> GitQueue::Submit(GitRequest request, Work work) {
  std::lock_guard lock(mu_);
  if (stopping_) return core::Fail(core::ErrorCode::kUnavailable, "slussd is stopping");
  std::size_t of_project = 0;
  for (const auto& [id, unused] : waiting_) {
    const GitRequest& r = requests_.at(id);
    if (r.project != request.project) continue;
    if (r.kind == "sync" && request.kind == "sync") return r;
    ++of_project;
  }
  if (waiting_.size() >= max_queued_) {
    return core::Fail(core::ErrorCode::kResourceExhausted,
                      core::StrCat(max_queued_, " git requests are waiting; retry in a minute"));
  }
  if (of_project >= max_per_project_) {
    return core::Fail(core::ErrorCode::kResourceExhausted,
                      core::StrCat(of_project, " git requests of project ", request.project,
                                   " are waiting; retry in a minute"));
  }
  request.id = next_id_++;
  request.status = "queued";
  requests_[request.id] = request;
  waiting_.emplace_back(request.id, std::move(work));
  wake_.notify_one();
  return request;
}

core::Result<GitRequest> GitQueue::Get(std::int64_t id) const {
  std::lock_guard lock(mu_);
  auto it = requests_.find(id);
  if (it == requests_.end()) {
    return core::NotFound(core::StrCat("git request ", id, " (the last ", keep_,
                                       " that ended are kept, in memory)"));
  }
  return it->second;
}

void GitQueue::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    // The oldest request of a project that has none running: a project's
    // requests run one at a time, so a remote that never answers holds one
    // thread, not the pool.
    auto runnable = waiting_.end();
    wake_.wait(lock, [&] {
      if (stopping_) return true;
      runnable = std::find_if(waiting_.begin(), waiting_.end(), [&](const auto& w) {
        return !busy_.contains(requests_.at(w.first).project);
      });
      return runnable != waiting_.end();
    });
    if (stopping_) return;
    auto [id, work] = std::move(*runnable);
    waiting_.erase(runnable);
    GitRequest& started = requests_.at(id);
    started.status = "running";
    const std::string project = started.project;
    busy_.insert(project);
    lock.unlock();
    core::Result<nlohmann::json> out = core::Internal("the git work threw");
    try {
      out = work();
    } catch (const std::exception&) {
      // A bug in the work: this request fails, the pool goes on.
    }
    lock.lock();
    busy_.erase(project);
    GitRequest& r = requests_.at(id);
    if (out) {
      r.status = "done";
      r.result = std::move(*out);
    } else {
      r.status = "failed";
      r.result = {{"code", core::ErrorCodeName(out.error().code)}, {"message", out.error().message}};
    }
    ended_.push_back(id);
    while (ended_.size() > keep_) {
      requests_.erase(ended_.front());
      ended_.pop_front();
    }
    wake_.notify_all();  // the project's next request may run now
  }
}

}  // namespace sluss::api::internal
