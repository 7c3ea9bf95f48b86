#include "executors/workspaces.h"

#include <sys/stat.h>

#include <charconv>
#include <filesystem>
#include <set>

#include "core/job_state.h"
#include "core/strings.h"
#include "logging/log.h"

namespace sluss::executors {

namespace fs = std::filesystem;
using core::StrCat;
using logging::Log;
using logging::LogLevel;

namespace {

// The job runs as its own uid: the code must be readable to it, and
// nothing in it writable. The state directory above stays closed to
// everyone else on the host. Returns the regular files' bytes.
std::int64_t OpenToReadOnly(const std::string& dir) {
  std::error_code ec;
  std::int64_t bytes = 0;
  fs::permissions(dir, fs::perms(0755), ec);
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_symlink(ec)) continue;
    const bool exec = it->is_directory(ec) ||
                      (it->status(ec).permissions() & fs::perms::owner_exec) != fs::perms::none;
    fs::permissions(it->path(), fs::perms(exec ? 0755 : 0644), ec);
    if (it->is_regular_file(ec)) bytes += static_cast<std::int64_t>(it->file_size(ec));
  }
  return bytes;
}

std::int64_t CountBytes(const std::string& dir) {
  std::error_code ec;
  std::int64_t bytes = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec))
      bytes += static_cast<std::int64_t>(it->file_size(ec));
  }
  return bytes;
}

// The job id of a per-attempt workspace ("JOB-ATTEMPT-KEY") that a slussd
// before shared workspaces made; 0 for any other name.
std::int64_t LegacyJob(const std::string& name) {
  std::int64_t job = 0;
  auto [end, err] = std::from_chars(name.data(), name.data() + name.size(), job);
  if (err != std::errc() || end == name.data() + name.size() || *end != '-') return 0;
  return job;
}

}  // namespace

Workspaces::Workspaces(std::string dir, core::GitService* git) : dir_(std::move(dir)), git_(git) {}

std::string Workspaces::Name(std::string_view project, std::string_view commit) {
  return StrCat("c-", commit, "-", project);
}

bool Workspaces::IsShared(const std::string& path) {
  return fs::path(path).filename().string().starts_with("c-");
}

core::Result<Workspace> Workspaces::Get(std::string_view project, std::string_view commit) {
  std::lock_guard lock(mu_);
  const std::string name = Name(project, commit);
  const std::string path = StrCat(dir_, "/", name);
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    used_[name] = std::chrono::steady_clock::now();
    auto [it, fresh] = bytes_.try_emplace(name, 0);
    if (fresh) it->second = CountBytes(path);  // made before this start
    return Workspace{path, it->second};
  }
  fs::create_directories(dir_, ec);
  const std::string tmp = StrCat(path, ".tmp.", ++exports_);
  fs::remove_all(tmp, ec);
  auto warnings = git_->ExportWorkspace(project, commit, tmp);
  if (!warnings) {
    fs::remove_all(tmp, ec);
    return std::unexpected(warnings.error());
  }
  for (const auto& w : *warnings)
    Log(LogLevel::kWarn, StrCat("project ", project, ", commit ", commit, ": ", w));
  // The output file system's mount point, made now: the sandbox would
  // otherwise make it in the shared directory at each job's start. (A
  // commit whose output/ is not a directory is refused by the sandbox.)
  struct stat st;
  if (::lstat(StrCat(tmp, "/output").c_str(), &st) != 0) fs::create_directory(tmp + "/output", ec);
  const std::int64_t bytes = OpenToReadOnly(tmp);
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code rm;
    fs::remove_all(tmp, rm);
    return core::Internal(StrCat("cannot place the workspace: ", ec.message()));
  }
  used_[name] = std::chrono::steady_clock::now();
  bytes_[name] = bytes;
  return Workspace{path, bytes};
}

core::Result<int> Workspaces::Sweep(core::Store& store) {
  const auto listed_at = std::chrono::steady_clock::now();
  // A run is pending or running while any of its jobs is (and again when
  // one is retried): its commit's workspace is needed. Runs, not jobs: a
  // queue of 20,000 jobs is a few runs.
  std::set<std::string> needed;
  for (core::RunState state : {core::RunState::kPending, core::RunState::kRunning}) {
    core::RunFilter filter;
    filter.state = state;
    filter.limit = 1000;
    for (;;) {
      auto runs = store.ListRuns(filter);
      if (!runs) return std::unexpected(runs.error());
      for (const auto& run : *runs) needed.insert(Name(run.project, run.commit));
      if (runs->size() < 1000) break;
      filter.before = runs->back().id;
    }
  }
  std::vector<fs::path> doomed;
  {
    std::lock_guard lock(mu_);
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_, ec)) {
      const std::string name = e.path().filename().string();
      if (name.starts_with(".trash-")) {
        doomed.push_back(e.path());  // a sweep's, cut short
        continue;
      }
      const bool partial = name.find(".tmp.") != std::string::npos;  // no export runs now
      if (!partial) {
        if (name.starts_with("c-")) {
          if (needed.contains(name)) continue;
          auto used = used_.find(name);
          if (used != used_.end() && used->second >= listed_at) continue;
        } else if (std::int64_t job = LegacyJob(name); job == 0) {
          continue;  // not ours
        } else if (auto j = store.GetJob(core::JobId{job}); !j || !core::IsTerminal(j->status)) {
          continue;  // its job may still run (or the store cannot say)
        }
      }
      // Moved aside under the lock (a Get after it exports anew), removed
      // after it.
      fs::path trash = fs::path(dir_) / StrCat(".trash-", name);
      std::error_code mv;
      fs::rename(e.path(), trash, mv);
      if (mv) continue;
      doomed.push_back(trash);
      used_.erase(name);
      bytes_.erase(name);
    }
  }
  int removed = 0;
  for (const auto& p : doomed) {
    std::error_code ec;
    fs::remove_all(p, ec);
    if (ec) {
      Log(LogLevel::kWarn, StrCat("cannot remove the workspace ", p.string(), ": ", ec.message()));
    } else {
      ++removed;
    }
  }
  return removed;
}

}  // namespace sluss::executors
