// slussd: the sluss daemon.
//
//   slussd [--config FILE]        run (no config: state under ./.sluss)
//   slussd --check-config FILE    validate a config file and exit
//   slussd backup DIR             a consistent copy of the state database, while running
//   slussd recover [--accept-loss]  go on after a loss the start refused (docs/operations.md)
//   slussd token create --user U --role R [--name N] [--expires 90d] [--config FILE]
//                                 make an API token offline (bootstraps the first admin)
//   slussd --version | --help

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <condition_variable>
#include <mutex>

#include "core/strings.h"
#include "airlock/release_desk.h"
#include "api/api.h"
#include "auth/tokens.h"
#include "api/server.h"
#include "core/quantity.h"
#include "provenance/audit_signer.h"
#include "daemon/config.h"
#include "daemon/pools.h"
#include "daemon/state_commands.h"
#include "store/audit_anchor.h"
#include "store/high_water.h"
#include "provenance/dataset_registry.h"
#include "scheduler/permit_watch.h"
#include "provenance/provenance_writer.h"
#include "provenance/run_outputs.h"
#include "provenance/run_provenance.h"
#include "intake/git_intake.h"
#include "executors/disk_space.h"
#include "executors/image_registry.h"
#include "executors/job_preparer.h"
#include "logging/log.h"
#include "executors/local.h"
#include "executors/slurm.h"
#include "sandbox/gpu.h"
#include "scheduler/engine.h"
#include "store/store.h"

namespace sluss::daemon {

using executors::ImageRegistry;
using executors::JobPreparer;
using executors::PreparerOptions;
using intake::GitIntake;
using intake::GitIntakeOptions;
using logging::Log;
using logging::LogLevel;
using provenance::AuditSigner;
using provenance::DatasetRegistry;
using provenance::RunOutputsOf;
using provenance::RunOutputsOptions;
using provenance::JobProvenanceOf;
using provenance::ProvenanceWriter;
using provenance::RunCrateOf;
using scheduler::PermitWatch;

namespace {

constexpr const char* kVersion = "0.1.0";
constexpr const char* kUsage =
    "usage: slussd [--config FILE]\n"
    "       slussd --check-config FILE\n"
    "       slussd backup DIR [--config FILE]\n"
    "       slussd recover [--accept-loss] [--config FILE]\n"
    "       slussd token create --user USER --role ROLE [--name NAME]\n"
    "                           [--expires 90d] [--config FILE]\n"
    "       slussd --version\n"
    "\n"
    "Without --config, slussd keeps its state under ./.sluss and listens on\n"
    "127.0.0.1:8470. The config file reference is docs/operations.md.\n";

core::Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return core::NotFound(core::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > (1 << 20)) {
    return core::InvalidArgument(core::StrCat(path, " is larger than 1 MiB"));
  }
  return text;
}

// Loads and validates; prints every problem. nullopt when invalid.
std::optional<Config> LoadConfig(const std::string& path) {
  auto text = ReadSmallFile(path);
  if (!text) {
    std::cerr << "slussd: " << text.error().message << "\n";
    return std::nullopt;
  }
  auto cfg = ParseConfig(*text, path);
  if (!cfg) {
    for (const auto& d : cfg.error()) std::cerr << d.ToString() << "\n";
    std::cerr << "slussd: " << path << ": " << cfg.error().size()
              << (cfg.error().size() == 1 ? " error" : " errors") << "\n";
    return std::nullopt;
  }
  return *cfg;
}

// A job's /proc/self/mountinfo shows, for each of its bind mounts (its
// workspace, its inputs), the path of the source inside the file system
// that holds it. With the state directory a file system of its own, that is
// "/workspaces/<job>-<attempt>-<key>"; else it is the host's whole path
// (/var/lib/sluss/...), which jobs should not learn. Said once, at start.
void WarnUnlessOwnFileSystem(const std::string& dir) {
  struct stat self{}, parent{};
  std::error_code ec;
  const std::string up = std::filesystem::canonical(dir, ec).parent_path();
  if (ec || ::stat(dir.c_str(), &self) != 0 || ::stat(up.c_str(), &parent) != 0) return;
  if (self.st_dev != parent.st_dev || self.st_ino == parent.st_ino) return;  // a mount point, or /
  Log(LogLevel::kWarn,
      core::StrCat("state_dir ", dir, " is not a file system of its own: jobs can read its path "
                   "in /proc/self/mountinfo; mount one there (docs/operations.md, Running jobs)"));
}

// A helper program (sluss-run, sluss-fetch): as configured, else next to
// slussd (installed), else in the build tree (build/daemon/slussd ->
// build/<module>/<name>), else on PATH.
std::string FindHelper(const std::string& configured, const std::string& name,
                       const std::string& module) {
  if (!configured.empty()) return std::filesystem::absolute(configured);
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  for (const auto& candidate : {self.parent_path() / name,
                                self.parent_path().parent_path() / module / name}) {
    if (std::filesystem::exists(candidate, ec)) return candidate;
  }
  return name;
}

int Run(const Config& cfg) {
  logging::SetLogLevel(logging::ParseLogLevel(cfg.log_level));
  // Signals are taken synchronously by sigwait below; block them before any
  // thread starts so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Job metadata is sensitive: nothing slussd writes is for other users.
  umask(077);
  std::error_code ec;
  std::filesystem::create_directories(cfg.state_dir, ec);
  if (ec) {
    Log(LogLevel::kError, core::StrCat("cannot create state_dir ", cfg.state_dir, ": ", ec.message()));
    return 1;
  }
  chmod(cfg.state_dir.c_str(), 0700);
  int lock_fd = LockStateDir(cfg.state_dir);
  if (lock_fd < 0) return 1;
  WarnUnlessOwnFileSystem(cfg.state_dir);

  // A database that cannot account for its high-water mark (lost -wal,
  // empty, truncated, an older backup) stops the start, named.
  std::optional<std::unique_ptr<store::SqliteStore>> store = OpenCheckedStore(cfg);
  if (!*store) return 1;
  const std::string mark_path = store::HighWaterPath(cfg.DatabasePath());
  store::HighWater mark_written;
  bool mark_failing = false;  // housekeeper thread only
  // The API has a connection of its own: with WAL, its reads never wait for
  // the engine's (a cycle over 100,000 queued jobs reads for a while, and
  // one connection serves one caller at a time); writes from either wait
  // for the other's transaction in SQLite (busy timeout), never in memory.
  auto api_store = store::SqliteStore::Open(cfg.DatabasePath());
  if (!api_store) {
    Log(LogLevel::kError, core::StrCat("cannot open the state database ", cfg.DatabasePath(),
                                       ": ", api_store.error().message));
    return 1;
  }
  // Many concurrent API connections each hold a descriptor.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  core::SystemClock clock;
  api::ApiOptions api_options;
  api_options.version = kVersion;
  const std::string state = std::filesystem::absolute(cfg.state_dir).lexically_normal();
  // Approved images, with their digests (which go into every cache key).
  ImageRegistry images(**store, state + "/images");
  std::map<std::string, executors::ImageSource> configured_images;
  for (const auto& [name, image] : cfg.images) configured_images[name] = {image.rootfs, image.host};
  if (auto loaded = images.Load(configured_images, clock.Now()); !loaded) {
    Log(LogLevel::kError, loaded.error().message);
    return 1;
  }
  api_options.image_service = &images;
  // The node pools: their capacity (this host's, the CDI spec's GPUs,
  // sinfo's) and, further down, their executors.
  const bool any_slurm = std::any_of(cfg.pools.begin(), cfg.pools.end(),
                                     [](const PoolConfig& p) { return p.executor == "slurm"; });
  if (any_slurm && !cfg.slurm.conf.empty()) ::setenv("SLURM_CONF", cfg.slurm.conf.c_str(), 1);
  auto slurm_runner = any_slurm ? executors::MakeProcessRunner() : nullptr;
  auto pools = ResolvePools(cfg, state, slurm_runner.get());
  if (!pools) {
    Log(LogLevel::kError, pools.error().message);
    return 1;
  }
  api_options.nodes = pools->nodes;
  api_options.pools = pools->info;
  api_options.on_request = [](const api::RequestLog& r) {
    Log(r.status >= 500 ? LogLevel::kError : LogLevel::kInfo,
        [&] {
          char ms[32];
          std::snprintf(ms, sizeof ms, "%.3f", r.latency_ms);
          return core::StrCat("request actor=", r.actor, " method=", r.method,
                              " route=", r.route, " status=", r.status, " latency_ms=", ms,
                              " remote=", r.remote);
        }());
  };
  GitIntakeOptions git_options;
  git_options.repos_dir = std::filesystem::absolute(cfg.state_dir + "/repos").lexically_normal();
  git_options.mirrors_dir =
      std::filesystem::absolute(cfg.state_dir + "/mirrors").lexically_normal();
  git_options.ca_cert = cfg.tls_cert.empty()
                            ? std::string()
                            : std::filesystem::absolute(cfg.tls_cert).string();
  git_options.images = &images;
  git_options.largest_node = pools->largest;
  // A job's output space is a file system on this host's disk: what one job
  // may ask for is the output limit unless its project's quota says
  // otherwise (per_job.max_disk).
  git_options.largest_node.disk_bytes = cfg.sandbox.output_bytes;
  // What a job gets for what it does not declare: one value for admission
  // (which refuses what could never fit), the scheduler (which counts it)
  // and, through the scheduler's start, the sandbox (which enforces it).
  core::ResourceDefaults job_defaults = scheduler::EngineOptions{}.defaults;
  job_defaults.disk_bytes = cfg.sandbox.output_bytes;
  git_options.defaults = job_defaults;
  git_options.poll_interval = std::chrono::seconds(cfg.git_poll_seconds);
  git_options.fetch_helper = FindHelper(cfg.sluss_fetch, "sluss-fetch", "gitsync");
  git_options.fetch_timeout = std::chrono::seconds(cfg.git_fetch_timeout_seconds);
  git_options.max_workspace_bytes = static_cast<std::uint64_t>(cfg.git_max_workspace_bytes);
  for (const auto& c : cfg.git_credentials)
    git_options.credentials.push_back({c.url, c.username, c.token_file, c.ssh_key, c.known_hosts});
  git_options.allowed_signers = cfg.git_allowed_signers;
  git_options.gpg_keyring = cfg.git_gpg_keyring;
  git_options.require_signed = cfg.git_require_signed;
  git_options.local_pusher = cfg.git_local_pusher;
  git_options.public_url = cfg.git_public_url;
  git_options.max_push_bytes = static_cast<std::uint64_t>(cfg.git_max_push_bytes);
  git_options.max_actions_per_run = cfg.git_max_actions_per_run;
  {
    // The pre-receive hook believes the pusher slussd names only with this
    // key (a new one at each start; root's alone on disk).
    auto key = auth::RandomSecret();
    if (!key) {
      Log(LogLevel::kError, key.error().message);
      return 1;
    }
    git_options.push_key = *key;
  }
  GitIntake git(**store, clock, git_options);
  api_options.git = &git;

  // The scheduler and the local executor. Jobs run detached under
  // sluss-run: they outlive a restart of slussd, which re-attaches.
  scheduler::EngineOptions engine_options;
  engine_options.nodes = pools->states;
  engine_options.defaults = job_defaults;
  engine_options.log_error = [](const std::string& m) { Log(LogLevel::kError, m); };
  engine_options.log_info = [](const std::string& m) { Log(LogLevel::kInfo, m); };
  executors::LocalOptions local;
  local.jobs_dir = state + "/jobs";
  std::filesystem::create_directories(local.jobs_dir, ec);
  // No job starts onto a full disk: it could not write its result.
  engine_options.disk_check = [dirs = std::vector<std::string>{state, local.jobs_dir},
                               reserve = cfg.disk_reserve_bytes] {
    return executors::DiskShortfall(dirs, reserve);
  };
  local.sluss_run = FindHelper(cfg.sandbox.sluss_run, "sluss-run", "sandbox");
  {
    std::uint32_t h = 2166136261u;  // FNV-1a of the state directory: stable
    for (unsigned char ch : state) h = (h ^ ch) * 16777619u;
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "sluss-%06x", h & 0xffffff);
    local.container_prefix = prefix;
  }
  local.runtime = cfg.runtime_path.empty() ? cfg.runtime : cfg.runtime_path;
  local.runtime_root = cfg.sandbox.runtime_root;
  local.cgroup_parent = cfg.sandbox.cgroup_parent;
  local.output_fs = cfg.sandbox.output_fs;
  local.cdi_spec = cfg.sandbox.cdi_spec;
  local.log_bytes = cfg.sandbox.log_bytes;
  PreparerOptions preparer_options;
  preparer_options.workspaces_dir = state + "/workspaces";
  preparer_options.images = &images;
  preparer_options.node_gpu_names = pools->gpu_names;
  DatasetRegistry datasets(**store, clock, state + "/datasets",
                           static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  datasets.Resume();
  api_options.datasets = &datasets;
  preparer_options.datasets = &datasets;
  preparer_options.clock = &clock;
  preparer_options.job_dir = [jobs = local.jobs_dir](const core::Job& job, int attempt) {
    return executors::FindAttemptDir(jobs, job, attempt);
  };
  preparer_options.git = &git;
  JobPreparer preparer(**store, preparer_options);
  scheduler::Engine engine(**store, clock, preparer, engine_options);
  // Each pool's executor (local: sluss-run here; slurm: sbatch), behind
  // one router that sends each attempt to its pool's.
  auto router = MakeExecutors(cfg, local, engine.ExecutorCallbacks(), **store);
  if (!router) {
    Log(LogLevel::kError, router.error().message);
    return 1;
  }
  std::unique_ptr<core::Executor> executor_owned = std::move(*router);
  core::Executor& executor = *executor_owned;
  engine.Start(executor);
  // The audit log's signed checkpoints and retention, and the permit kill
  // switch, on one housekeeping thread woken by every change.
  auto signer = AuditSigner::Open(**store, clock, SignerOptions(cfg));
  if (!signer) {
    Log(LogLevel::kError, signer.error().message);
    return 1;
  }
  // The anchor apart from the state directory, current from the start: a
  // checkpoint of every record so far, and the mark. One that cannot be
  // written stops the start (a wrong path, a mount that is not there):
  // running on, the next start would check against an anchor that no
  // longer moves. While running, a failed write is logged (below).
  const std::string anchor_path =
      cfg.audit.anchor_dir.empty() ? "" : store::AuditAnchorPath(cfg.audit.anchor_dir);
  store::AuditAnchor anchor_written;
  bool anchor_failing = false;  // housekeeper thread only
  if (!anchor_path.empty()) {
    auto r = signer->MaybeCheckpoint(/*force=*/true);
    auto w = r ? store::RefreshAuditAnchor(**store, anchor_path, &anchor_written)
               : core::Result<bool>(std::unexpected(r.error()));
    if (!w) {
      Log(LogLevel::kError,
          core::StrCat("refusing to start: cannot write the audit anchor ", anchor_path, ": ",
                       w.error().message, " (audit.anchor_dir must be writable by slussd)"));
      return 1;
    }
  }
  api_options.audit_public_key = signer->public_pem();
  api_options.run_provenance = [&store](core::RunId id) { return RunCrateOf(**store, id); };
  api_options.job_provenance = [&store](core::JobId id) { return JobProvenanceOf(**store, id); };
  RunOutputsOptions outputs_options;
  outputs_options.job_dir = preparer_options.job_dir;
  outputs_options.clock = &clock;
  api_options.run_outputs = [&api_store, outputs_options](core::RunId id) {
    return RunOutputsOf(**api_store, id, outputs_options);
  };
  // The airlock writes through the change store: its records and their
  // audit are in the request's transaction.
  airlock::ReleaseDeskOptions release_options;
  release_options.job_dir = preparer_options.job_dir;
  release_options.release_dir = state + "/releases";
  release_options.log_files = [&executor](const core::Job& job, int attempt, const std::string& stream) {
    return executor.LogFiles(job.id, attempt, core::AttemptKey(job, attempt), stream);
  };
  airlock::ReleaseDesk release_desk(**store, clock, release_options);
  api_options.releases = &release_desk;
  api_options.log_tail_lines = cfg.log_tail_lines;
  api_options.log_line_chars = cfg.log_line_chars;
  PermitWatch permit_watch(**store, clock);
  ProvenanceWriter provenance_writer(**store, preparer_options.job_dir);
  std::mutex house_mu;
  std::condition_variable house_cv;
  bool house_stop = false, house_woken = false;
  api_options.on_change = [&] {
    engine.Wake();
    {
      std::lock_guard lock(house_mu);
      house_woken = true;
    }
    house_cv.notify_all();
  };
  api_options.extra_metrics = [&engine] { return engine.Stats().ToPrometheus(); };
  api_options.log_files = [&executor, &api_store](core::JobId job, int attempt,
                                                  const std::string& stream) {
    // The attempt of this job, never another's with the same id.
    auto row = (*api_store)->GetJob(job);
    if (!row) return std::vector<std::string>{};
    return executor.LogFiles(job, attempt, core::AttemptKey(*row, attempt), stream);
  };
  api_options.change_store = store->get();
  api::Api api_handler(**api_store, clock, api_options);
  api::ServerOptions server_options;
  server_options.host = cfg.listen_host;
  server_options.port = cfg.listen_port;
  server_options.tls_cert = cfg.tls_cert;
  server_options.tls_key = cfg.tls_key;
  server_options.on_warning = [](const std::string& m) { Log(LogLevel::kWarn, m); };
  // Hosted repositories over git's smart HTTP, on this listener (and its TLS).
  server_options.git.repos_dir = git_options.repos_dir;
  server_options.git.spool_dir = state + "/tmp";
  server_options.git.max_push_bytes = static_cast<std::uint64_t>(cfg.git_max_push_bytes);
  server_options.git.max_fetch_request_bytes =
      static_cast<std::uint64_t>(cfg.git_max_fetch_request_bytes);
  server_options.git.max_backends = static_cast<std::size_t>(cfg.git_max_requests);
  server_options.git.max_backends_per_person =
      static_cast<std::size_t>(cfg.git_max_requests_per_person);
  server_options.git.timeout = std::chrono::seconds(cfg.git_request_timeout_seconds);
  server_options.git.push_key = git_options.push_key;
  {
    std::error_code spool_ec;
    std::filesystem::create_directories(server_options.git.spool_dir, spool_ec);
    ::chmod(server_options.git.spool_dir.c_str(), 0700);
    // Bodies left by a slussd that was killed while it read them.
    for (const auto& e : std::filesystem::directory_iterator(server_options.git.spool_dir, spool_ec))
      if (e.path().filename().string().starts_with("git-body-"))
        std::filesystem::remove(e.path(), spool_ec);
  }
  api::HttpServer server(api_handler, server_options);
  if (auto r = server.Start(); !r) {
    Log(LogLevel::kError, r.error().message);
    return 1;
  }
  const std::string api_url = core::StrCat(
      cfg.tls_cert.empty() ? "http" : "https", "://",
      cfg.listen_host.find(':') != std::string::npos ? core::StrCat("[", cfg.listen_host, "]")
                                                      : cfg.listen_host,
      ":", server.port());
  if (auto r = git.WriteHookEnv(api_url); !r) {
    Log(LogLevel::kError, r.error().message);
    return 1;
  }
  // Pushes made while slussd was down; then every poll_interval, for remote
  // repositories without a webhook (and as a safety net for hosted ones).
  git.SyncAll();
  engine.Wake();
  std::thread housekeeper([&] {
    std::unique_lock lock(house_mu);
    while (!house_stop) {
      house_cv.wait_for(lock, std::chrono::seconds(2), [&] { return house_stop || house_woken; });
      house_woken = false;
      lock.unlock();
      // The workspaces no pending or running run needs (at the first
      // round, also what a crash left).
      if (auto swept = preparer.SweepWorkspaces(); !swept) {
        Log(LogLevel::kError, core::StrCat("workspaces: ", swept.error().message));
      } else if (*swept > 0) {
        Log(LogLevel::kInfo, core::StrCat("workspaces: removed ", *swept, " no job needs"));
      }
      if (permit_watch.Sweep() > 0) engine.Wake();
      if (auto r = signer->MaybeCheckpoint(); !r)
        Log(LogLevel::kError, core::StrCat("audit checkpoint: ", r.error().message));
      signer->MaybePurge();
      provenance_writer.Catch();
      // A full disk fails every round: logged once per episode.
      if (auto r = store::RefreshHighWater(**store, mark_path, &mark_written); !r) {
        if (!mark_failing)
          Log(LogLevel::kError, core::StrCat("high-water mark: ", r.error().message,
                                             " (not logged again until it is written)"));
        mark_failing = true;
      } else if (mark_failing) {
        Log(LogLevel::kInfo, "high-water mark: written again");
        mark_failing = false;
      }
      if (!anchor_path.empty()) {
        if (auto r = store::RefreshAuditAnchor(**store, anchor_path, &anchor_written); !r) {
          if (!anchor_failing)
            Log(LogLevel::kError,
                core::StrCat("audit anchor: ", r.error().message,
                             " (not logged again until it is written; the next start checks "
                             "against the last one written, and refuses to start while it "
                             "cannot write one)"));
          anchor_failing = true;
        } else if (anchor_failing) {
          Log(LogLevel::kInfo, "audit anchor: written again");
          anchor_failing = false;
        }
      }
      lock.lock();
    }
  });
  std::mutex poll_mu;
  std::condition_variable poll_cv;
  bool stopping = false;
  std::thread poller([&] {
    std::unique_lock lock(poll_mu);
    while (!poll_cv.wait_for(lock, std::chrono::seconds(cfg.git_poll_seconds),
                             [&] { return stopping; })) {
      lock.unlock();
      git.SyncAll();
      engine.Wake();
      lock.lock();
    }
  });
  Log(LogLevel::kInfo,
      core::StrCat("slussd ", kVersion, " ready listen=", api_url,
                   " state_dir=", cfg.state_dir,
                   " database=", cfg.DatabasePath(), " schema=",
                   store::SqliteStore::LatestSchemaVersion(), " runtime=", cfg.runtime,
                   " executor=", cfg.pools_shorthand ? cfg.executor : "pools", " pools=",
                   [&] {
                     std::vector<std::string> v;
                     for (const auto& [name, p] : pools->info) v.push_back(name + ":" + p.executor);
                     return core::Join(v, ",");
                   }(),
                   " sluss_run=", local.sluss_run));
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      Log(LogLevel::kInfo, "SIGHUP: nothing to reload yet");
      continue;
    }
    Log(LogLevel::kInfo, core::StrCat("received ", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                                      ", shutting down"));
    break;
  }
  {
    std::lock_guard lock(poll_mu);
    stopping = true;
  }
  poll_cv.notify_all();
  poller.join();
  server.Stop();
  engine.Stop();  // running jobs go on under sluss-run; the next start re-attaches
  {
    std::lock_guard lock(house_mu);
    house_stop = true;
  }
  house_cv.notify_all();
  housekeeper.join();
  if (auto r = signer->MaybeCheckpoint(/*force=*/true); r && *r > 0)
    Log(LogLevel::kInfo, core::StrCat("audit: signed a checkpoint of ", *r, " records"));
  if (auto r = store::RefreshHighWater(**store, mark_path, &mark_written); !r)
    Log(LogLevel::kError, core::StrCat("high-water mark: ", r.error().message));
  if (!anchor_path.empty()) {
    if (auto r = store::RefreshAuditAnchor(**store, anchor_path, &anchor_written); !r)
      Log(LogLevel::kError, core::StrCat("audit anchor: ", r.error().message));
  }
  store->reset();
  close(lock_fd);
  Log(LogLevel::kInfo, "slussd stopped cleanly");
  return 0;
}

// slussd token create --user U --role R [--name N] [--expires D] [--config F]
int TokenCreate(int argc, char** argv) {
  std::string user, role_name, name = "created with slussd token create", expires = "90d",
                                    config_path;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "slussd token create: " << arg << " needs a value\n" << kUsage;
      return 2;
    }
    std::string v = argv[++i];
    if (arg == "--user") user = v;
    else if (arg == "--role") role_name = v;
    else if (arg == "--name") name = v;
    else if (arg == "--expires") expires = v;
    else if (arg == "--config") config_path = v;
    else {
      std::cerr << "slussd token create: unknown argument '" << arg << "'\n" << kUsage;
      return 2;
    }
  }
  auto role = core::ParseRole(role_name);
  if (user.empty() || !role) {
    std::cerr << "slussd token create: give --user and --role (researcher, steward, admin, "
                 "checker or auditor)\n";
    return 2;
  }
  auto ttl = core::ParseDuration(expires);
  if (!ttl || ttl->count() == 0) {
    std::cerr << "slussd token create: --expires: "
              << (ttl ? "must be more than 0s" : ttl.error().message) << "\n";
    return 2;
  }
  Config cfg = DefaultConfig();
  if (!config_path.empty()) {
    auto loaded = LoadConfig(config_path);
    if (!loaded) return 1;
    cfg = *loaded;
  }
  umask(077);
  std::error_code ec;
  std::filesystem::create_directories(cfg.state_dir, ec);
  auto store = store::SqliteStore::Open(cfg.DatabasePath());
  if (!store) {
    std::cerr << "slussd token create: " << store.error().message << "\n";
    return 1;
  }
  core::SystemClock clock;
  auto issued = auth::IssueToken(**store, clock.Now(), user, *role, name, *ttl);
  if (!issued) {
    std::cerr << "slussd token create: " << issued.error().message << "\n";
    return 1;
  }
  // Made outside the API: audited here.
  (void)(*store)->AppendAudit({"slussd token create", "token.created",
                               core::StrCat("token/", issued->first.id),
                               {{"user", user}, {"role", role_name}}},
                              clock.Now());
  std::cerr << "token " << issued->first.id << " for " << user << " (" << role_name
            << "), expires " << core::FormatRfc3339(*issued->first.expires_at)
            << ". It is shown once; store it now.\n";
  std::cout << issued->second << "\n";
  return 0;
}

int Main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "token" && std::string(argv[2]) == "create") {
    return TokenCreate(argc - 3, argv + 3);
  }
  std::string config_path;
  std::string check_path;
  // slussd backup DIR | slussd recover [--accept-loss], each [--config FILE]
  std::string command;
  std::string backup_dir;
  bool accept_loss = false;
  int first = 1;
  if (argc >= 2 && (std::string(argv[1]) == "backup" || std::string(argv[1]) == "recover")) {
    command = argv[1];
    first = 2;
    if (command == "backup") {
      if (argc < 3 || std::string(argv[2]).starts_with("-")) {
        std::cerr << "slussd backup: give the directory to back up into\n" << kUsage;
        return 2;
      }
      backup_dir = argv[2];
      first = 3;
    }
  }
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* flag) -> std::optional<std::string> {
      if (i + 1 >= argc) {
        std::cerr << "slussd: " << flag << " needs a file\n" << kUsage;
        return std::nullopt;
      }
      return std::string(argv[++i]);
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--version") {
      std::cout << "slussd " << kVersion << "\n";
      return 0;
    } else if (arg == "--config") {
      auto v = value("--config");
      if (!v) return 2;
      config_path = *v;
    } else if (arg == "--accept-loss" && command == "recover") {
      accept_loss = true;
    } else if (arg == "--check-config") {
      auto v = value("--check-config");
      if (!v) return 2;
      check_path = *v;
    } else {
      std::cerr << "slussd: unknown argument '" << arg << "'\n" << kUsage;
      return 2;
    }
  }
  if (!check_path.empty()) {
    auto cfg = LoadConfig(check_path);
    if (!cfg) return 1;
    std::cout << check_path << ": ok\n";
    return 0;
  }
  Config cfg = DefaultConfig();
  if (!config_path.empty()) {
    auto loaded = LoadConfig(config_path);
    if (!loaded) return 1;
    cfg = *loaded;
  }
  if (command == "backup") return Backup(cfg, backup_dir);
  if (command == "recover") return Recover(cfg, accept_loss);
  return Run(cfg);
}

}  // namespace
}  // namespace sluss::daemon

int main(int argc, char** argv) { return sluss::daemon::Main(argc, argv); }
