#pragma once

// GitQueue: the git work that API requests ask for (a sync of a mirrored
// project's remote, a run of one of its commits), run on a bounded pool of
// its own, never on the API's workers: a fetch may take until
// git.fetch_timeout, and a remote that never answers must not stop the API.
// A request that needs a fetch is answered 202 at once with a GitRequest,
// which GET /v1/git/requests/{id} shows until it is done. A project's
// requests run one at a time, oldest first, so a remote that never answers
// holds one thread until git.fetch_timeout and other projects go on.
//
// Thread safety: every method may be called from any thread.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/time.h"

namespace sluss::api::internal {

struct GitRequest {
  std::int64_t id = 0;
  std::string project;
  std::string kind;  // "sync" (a push notification) or "run" (POST /v1/runs)
  std::string submitted_by;
  std::string status = "queued";  // queued, running, done, failed
  core::TimePoint queued_at{};
  nlohmann::json result;  // done: what the work said; failed: the error
};

nlohmann::json View(const GitRequest& r);

class GitQueue {
 public:
  // `threads` run the work; at most `max_queued` requests wait, and at most
  // `max_per_project` of one project (so one project cannot fill the
  // queue); the last `keep` requests that ended stay visible.
  GitQueue(std::size_t threads, std::size_t max_queued, std::size_t max_per_project,
           std::size_t keep);
  ~GitQueue();  // Shutdown
  // Drops the requests that wait (they fail) and joins the threads (a
  // running fetch ends at its own timeout); Submit refuses from then on.
  // Idempotent.
  void Shutdown();
  GitQueue(const GitQueue&) = delete;
  GitQueue& operator=(const GitQueue&) = delete;

  using Work = std::function<core::Result<nlohmann::json>()>;
  // Queues `work`. A sync of a project whose sync waits already is that
  // request (one fetch sees every push made meanwhile). kResourceExhausted
  // when the queue, or the project's share of it, is full.
  core::Result<GitRequest> Submit(GitRequest request, Work work);
  // kNotFound when the id is unknown or was forgotten.
  core::Result<GitRequest> Get(std::int64_t id) const;

 private:
  void Loop();

  const std::size_t max_queued_;
  const std::size_t max_per_project_;
  const std::size_t keep_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                              // GUARDED_BY(mu_)
  std::int64_t next_id_ = 1;                           // GUARDED_BY(mu_)
  std::deque<std::pair<std::int64_t, Work>> waiting_;  // GUARDED_BY(mu_)
  std::map<std::int64_t, GitRequest> requests_;        // GUARDED_BY(mu_)
  std::deque<std::int64_t> ended_;                     // GUARDED_BY(mu_), oldest first
  std::set<std::string> busy_;                         // GUARDED_BY(mu_): projects running
  std::vector<std::thread> threads_;
};

}  // namespace sluss::api::internal
