#pragma once

// The GitService port: what the API asks of git hosting and syncing, which
// the daemon implements with gitsync/ (libgit2).

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/ids.h"

namespace sluss::core {

// What one sync did with one branch tip.
struct SyncOutcome {
  std::string ref;      // "refs/heads/main"
  std::string commit;   // 40 hex digits
  RunId run;            // the run created (or found, when seen before)
  bool created = false; // false: this commit already had its run
  bool skipped = false; // "[skip sluss]" in the message: no run
  std::string message;  // for the pusher: "run 12: 3 jobs, pending"
  // false: a branch the project does not track; no run, and `message`
  // says how an admin tracks it.
  bool tracked = true;
};

// A run asked for through the API rather than by a push.
struct RunRequest {
  std::string project;
  std::string ref;     // a branch ("main") or a full commit id; empty: HEAD's branch
  std::vector<std::string> actions;  // only these and what they need; empty: all
  bool force = false;  // ignore the cache for the chosen actions
  std::string submitted_by;
};

class GitService {
 public:
  virtual ~GitService() = default;
  // Makes a bare repository for `project` that slussd hosts, with a
  // post-receive hook that notifies slussd. Returns the push URL (CloneUrl).
  virtual Result<std::string> CreateHosted(std::string_view project) = 0;
  // The HTTPS URL that clones and pushes a hosted project
  // ("https://sluss.example.org/git/p1.git"); empty when `project` has no
  // hosted repository.
  virtual std::string CloneUrl(std::string_view /*project*/) const { return ""; }
  // The hosted repository's directory on slussd's host (empty: none).
  virtual std::string RepoPathOf(std::string_view /*project*/) const { return ""; }
  // Looks at the tracked branches of `project` now and creates a run for
  // each new tip. Safe to call many times: a tip already seen creates
  // nothing. Blocks (reads the repository).
  virtual Result<std::vector<SyncOutcome>> Sync(std::string_view project) = 0;
  // Creates a run of a commit of a hosted project now, whether or not one
  // exists. kNotFound for an unknown ref; kInvalidArgument for an action the
  // pipeline does not have.
  virtual Result<SyncOutcome> StartRun(const RunRequest& request) = 0;
  // Writes the tree of `commit` of `project` into `dir` (a job's
  // workspace), without fetching. Returns warnings (submodules, LFS
  // pointers) for the job's record. kResourceExhausted: the commit's files
  // are over the workspace limit (git.max_workspace), named in the message.
  virtual Result<std::vector<std::string>> ExportWorkspace(std::string_view project,
                                                           std::string_view commit,
                                                           const std::string& dir) = 0;
};

}  // namespace sluss::core
