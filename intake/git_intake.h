#pragma once

// GitIntake: slussd's GitService. Hosted repositories live under
// STATE_DIR/repos/<project>.git; a push runs their post-receive hook, which
// calls POST /v1/hooks/git/<project>, which calls Sync: each new tip of a
// tracked branch becomes one run (once, across restarts: the run's dedupe
// key is project, ref and commit).

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "core/git_service.h"
#include "core/image_service.h"
#include "core/job_spec.h"
#include "core/store.h"
#include "core/time.h"
#include "core/types.h"

namespace sluss::gitsync {
class Repo;
}

namespace sluss::intake {

// Credentials for remotes whose URL starts with `url` (the longest prefix
// wins). Secrets stay in their files; only the paths are here.
struct GitCredential {
  std::string url;          // "https://gitlab.example.org/", "ssh://git@host/", "git@host:"
  std::string username;
  std::string token_file;   // HTTPS
  std::string ssh_key;      // SSH private key
  std::string known_hosts;  // SSH host keys the remote must present
};

struct GitIntakeOptions {
  std::string repos_dir;       // absolute; hosted repositories
  std::string mirrors_dir;     // absolute; mirrors of remote repositories
  std::string ca_cert;         // the hooks' --cacert when the API is HTTPS
  // The approved images (their digests go into cache keys). Must outlive
  // the intake.
  const core::ImageService* images = nullptr;
  // The largest node: a job that asks for more can never run, and is
  // refused at submit. Zero fields are not checked.
  core::Resources largest_node;
  // What a job gets for what it does not declare (as the engine applies).
  core::ResourceDefaults defaults;
  // A remote that fails is polled again after this, doubled at each
  // failure in a row, up to max_backoff (webhooks and API runs try at once).
  std::chrono::seconds poll_interval{60};
  std::chrono::seconds max_backoff{3600};
  // Remotes are fetched by this program (sluss-fetch), stopped after
  // fetch_timeout, with the credentials whose URL prefix is the longest
  // that the project's URL starts with.
  std::string fetch_helper = "sluss-fetch";
  std::chrono::seconds fetch_timeout{300};
  // The most a job's exported workspace may hold (git.max_workspace).
  std::uint64_t max_workspace_bytes = std::uint64_t{1} << 30;
  std::vector<GitCredential> credentials;
  // The most actions one run may have (0: no limit): a larger sluss.yaml
  // is refused before any of its actions is admitted.
  int max_actions_per_run = 0;
  // Commit signatures: checked against these (empty: not checked), and
  // required for a run when require_signed.
  std::string allowed_signers;
  std::string gpg_keyring;
  bool require_signed = false;
  // Pushes to hosted repositories are credited to the person who pushed:
  // over HTTPS the token's, which slussd names to the pre-receive hook with
  // `push_key`; over the file path `local_pusher` (git.local_pusher), or
  // refused when that is empty.
  std::string local_pusher;
  std::string push_key;
  // receive.maxInputSize of the hosted repositories (git.max_push).
  std::uint64_t max_push_bytes = std::uint64_t{100} << 20;
  // Where people reach slussd (git.public_url: a reverse proxy's URL);
  // empty: the URL it listens on (WriteHookEnv's). Clone URLs are this +
  // "/git/<project>.git".
  std::string public_url;
};

class GitIntake final : public core::GitService {
 public:
  // `store` and `clock` must outlive the intake.
  GitIntake(core::Store& store, const core::Clock& clock, GitIntakeOptions options);

  core::Result<std::string> CreateHosted(std::string_view project) override;
  std::string CloneUrl(std::string_view project) const override;
  std::string RepoPathOf(std::string_view project) const override { return RepoPath(project); }
  // Tells the hosted repositories' hooks where slussd serves now ("http://
  // 127.0.0.1:8470"): written at each start, once the API listens, to
  // <repos_dir>/hook.env, which every hook reads. So a changed `listen`, or
  // port 0 (any free port), needs no change to the hooks.
  // Also installs the current hooks in every hosted repository (and moves
  // an older post-receive hook's token out of its script into
  // hooks/sluss-token), and writes the pre-receive hook's key for this
  // start (push_key) to <repos_dir>/.push-key, 0600.
  core::Result<void> WriteHookEnv(std::string_view api_url);
  core::Result<std::vector<core::SyncOutcome>> Sync(std::string_view project) override;
  core::Result<core::SyncOutcome> StartRun(const core::RunRequest& request) override;
  // Syncs every hosted project: at start, for pushes made while slussd was
  // down. Errors are logged, not returned.
  void SyncAll();
  // Writes the tree of `commit` of `project` into `dir` (a job's
  // workspace), from the hosted repository or the mirror, without fetching.
  // Returns warnings (submodules, LFS pointers) for the job's record.
  core::Result<std::vector<std::string>> ExportWorkspace(std::string_view project,
                                                         std::string_view commit,
                                                         const std::string& dir) override;

 private:
  std::string RepoPath(std::string_view project) const;
  std::string MirrorPath(std::string_view project) const;
  // The repository to read for `project`, opened: its hosted repository, or
  // its mirror after a fetch. Records the fetch's outcome as the project's
  // sync status ("sync/<project>" setting).
  core::Result<std::unique_ptr<gitsync::Repo>> OpenRepo(const core::Project& project);
  // How one commit becomes one run.
  struct RunSpec {
    std::string ref;
    std::string sha;
    std::string trigger;       // "push" or "api"
    std::string submitted_by;  // empty: the commit's author
    bool pusher_required = false;  // a hosted push: no submitted_by, no run
    std::string dedupe_key;    // empty: no deduplication
    std::vector<std::string> only_actions;
    bool force = false;
  };
  core::Result<core::SyncOutcome> MakeRun(const core::Project& project, gitsync::Repo& repo,
                                          const RunSpec& spec);

  core::Store& store_;
  const core::Clock& clock_;
  GitIntakeOptions options_;
  mutable std::mutex url_mu_;
  std::string api_url_;  // GUARDED_BY(url_mu_); set by WriteHookEnv
  // One sync at a time per project, so a tip is never processed twice at
  // once; other projects go on meanwhile (a remote that hangs until the
  // fetch timeout holds up only its own project).
  std::mutex& ProjectLock(std::string_view project);
  std::mutex locks_mu_;
  std::map<std::string, std::unique_ptr<std::mutex>, std::less<>> locks_;
};

}  // namespace sluss::intake
