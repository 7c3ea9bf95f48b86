#pragma once

// slussd's configuration file (YAML). Text in, Config or every error out;
// reading the file is the caller's. The reference is docs/operations.md.

#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/diagnostic.h"

namespace sluss::daemon {

struct ImageConfig {
  std::string rootfs;  // a directory holding the image's root file system
  bool host = false;   // the `host` image: this host's /usr, read-only
};

struct AuditConfig {
  // The Ed25519 key that signs checkpoints; kept outside the database.
  // Empty: STATE_DIR/audit/ed25519.key, created on first start (0600) with
  // its public half beside it (ed25519.pub), for auditors.
  std::string signing_key;
  // A directory apart from the state directory (other media, another
  // host's mount) where slussd keeps the audit anchor (store/audit_anchor.h):
  // the newest signed checkpoint and a copy of the high-water mark, checked
  // at every start. Empty: no anchor (warned at start), so a state directory
  // put back whole from an old copy starts without a word.
  std::string anchor_dir;
  std::int64_t checkpoint_every = 1000;  // records
  int checkpoint_interval_s = 300;       // or this often, when records were added
  std::int64_t retention_days = 400;     // payloads kept at least this long (>= 365)
};

struct SandboxConfig {
  std::string output_fs = "loop";        // "loop" (bounded) or "none"
  std::string cgroup_parent = "/sluss";
  std::string runtime_root;              // empty: the runtime's default
  std::string cdi_spec = "/etc/cdi/nvidia.yaml";
  std::int64_t output_bytes = std::int64_t{10} << 30;  // per job, default
  std::int64_t log_bytes = std::int64_t{100} << 20;    // per stream
  std::string sluss_run;                 // empty: next to slussd
};

// `executor: slurm`: where and how attempts are submitted (docs/operations.md).
struct SlurmConfig {
  std::string partition, account, qos;  // empty: Slurm's defaults
  std::string conf;                     // SLURM_CONF for the clients; empty: theirs
  int poll_seconds = 5;                 // one squeue per interval
  int lost_grace_seconds = 60;          // unknown to Slurm, no result: lost after this
  std::string accounting = "auto";      // "auto": sacct where it answers; "none"
};

// One node pool (`pools:`): where jobs may run, with which executor, how
// much, and for which projects. The planner places each job on a pool that
// fits it; job rows name the pool as their node.
struct PoolConfig {
  std::string name;                  // empty (shorthand only): this host's name
  std::string executor = "local";    // "local" or "slurm"
  std::int64_t milli_cpus = 0;       // 0: local: this host's; slurm: sinfo's
  std::int64_t memory_bytes = 0;     // 0: local: this host's less 1G; slurm: sinfo's
  // Local pools: GPU names as node.gpus; absent: the CDI spec's. Slurm: how
  // many GPUs sluss admits at once (which ones a job gets is Slurm's choice).
  std::optional<std::vector<std::string>> gpus;
  std::string partition, account, qos;  // slurm: empty: the config's slurm: or Slurm's
  std::vector<std::string> projects;    // empty: every project
};

// Credentials for remotes whose URL starts with `url` (the longest prefix
// wins). Secrets stay in their files; the config names only the paths.
struct GitCredentialConfig {
  std::string url;          // "https://gitlab.example.org/", "ssh://git@host/", "git@host:"
  std::string username;
  std::string token_file;   // HTTPS
  std::string ssh_key;      // SSH private key
  std::string known_hosts;  // SSH host keys the remote must present
};

struct Config {
  std::string state_dir = ".sluss";      // database, mirrors, job directories
  std::string listen_host = "127.0.0.1";
  int listen_port = 8470;
  std::string runtime = "runc";          // "runc" or "crun"
  std::string runtime_path;              // empty: found on PATH
  std::string executor = "local";        // "local" or "slurm" (shorthand for one pool)
  SlurmConfig slurm;
  std::string node_name;                 // empty: the host name
  std::int64_t node_milli_cpus = 0;      // 0: all of this host's CPUs
  std::int64_t node_memory_bytes = 0;    // 0: this host's memory less 1G
  // GPU names as nvidia-ctk names them in the CDI spec: "0" (index), "GPU-<uuid>", MIG
  // "0:1" or "MIG-<uuid>". Absent: every GPU of the CDI spec (sandbox.cdi_spec), none
  // without one.
  std::optional<std::vector<std::string>> node_gpus;
  // Never empty after ParseConfig or DefaultConfig. Without `pools:`, the
  // one pool of `executor:`, `node:` and `slurm:` (the shorthand).
  std::vector<PoolConfig> pools;
  bool pools_shorthand = true;           // false: `pools:` was written
  std::map<std::string, ImageConfig> images;
  AuditConfig audit;
  SandboxConfig sandbox;
  std::string tls_cert;                  // both set: HTTPS
  std::string tls_key;
  std::string log_level = "info";        // "debug", "info", "warn", "error"
  // What researchers read of a job's log (`logs: {tail_lines, line_chars}`):
  // its last lines, each cut; stewards and admins read it all.
  int log_tail_lines = 200;
  int log_line_chars = 1000;
  int git_poll_seconds = 60;             // how often remote repositories are fetched
  int git_fetch_timeout_seconds = 300;   // a fetch that takes longer is stopped
  // A job's workspace (the commit's files, exported once per job) may be
  // at most this big; a larger commit fails its jobs with the size named.
  std::int64_t git_max_workspace_bytes = std::int64_t{1} << 30;
  // Free space kept on the state and job file systems: below it, no job
  // starts (waiting_on_disk). 0: none.
  std::int64_t disk_reserve_bytes = std::int64_t{1} << 30;
  std::vector<GitCredentialConfig> git_credentials;
  std::string sluss_fetch;               // empty: next to slussd
  std::string git_allowed_signers;       // OpenSSH allowed_signers: SSH-signed commits
  std::string git_gpg_keyring;           // OpenPGP keyring: GPG-signed commits
  bool git_require_signed = false;       // runs only from commits signed by their author
  // The most one push over HTTPS may carry (its request body; the pack
  // within it is held to the same by receive-pack).
  std::int64_t git_max_push_bytes = std::int64_t{100} << 20;
  // The most actions one run may have (git.max_actions_per_run); a larger
  // sluss.yaml is refused at the push, with the limit named. 0: no limit.
  int git_max_actions_per_run = 0;
  // The git service (git.max_requests, git.max_requests_per_person,
  // git.request_timeout, git.max_fetch_request): http-backends at once, of
  // which one person may hold, how long a request (its body, the backend
  // and its hooks) may take, the most a fetch's negotiation may carry.
  // Spooled bodies are at most max_requests x (max_push + 1M) at once.
  std::int64_t git_max_requests = 16;
  std::int64_t git_max_requests_per_person = 4;
  int git_request_timeout_seconds = 600;
  std::int64_t git_max_fetch_request_bytes = std::int64_t{16} << 20;
  // Who a push over the file path (on this host, no token) is credited
  // to; empty: such pushes are refused.
  std::string git_local_pusher;
  // Where people reach slussd (a reverse proxy's URL); empty: the listen
  // address. Clone URLs are this + "/git/<project>.git".
  std::string git_public_url;

  std::string DatabasePath() const { return state_dir + "/sluss.db"; }
};

using ConfigResult = std::expected<Config, core::Diagnostics>;

// Parses a config file's text. `file` is the name printed in diagnostics.
// Relative paths are kept as written (relative to slussd's working
// directory).
ConfigResult ParseConfig(std::string_view text, std::string_view file);

// The configuration used when slussd starts without --config: state under
// ./.sluss, listening on 127.0.0.1:8470, runc, this host's CPUs and memory.
Config DefaultConfig();

}  // namespace sluss::daemon
