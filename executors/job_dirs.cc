#include "executors/job_dirs.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <optional>

#include "core/executor.h"
#include "core/strings.h"
#include "sandbox/supervisor.h"

namespace sluss::executors {

namespace fs = std::filesystem;
using core::StrCat;

namespace {

struct AttemptName {
  std::int64_t job = 0;
  int attempt = 0;
  std::string key;  // empty for a directory from before attempt keys
};

std::optional<AttemptName> ParseAttemptName(const std::string& name) {
  AttemptName a;
  const char* p = name.data();
  const char* end = name.data() + name.size();
  auto [q, e1] = std::from_chars(p, end, a.job);
  if (e1 != std::errc() || q == end || *q != '-') return std::nullopt;
  auto [r, e2] = std::from_chars(q + 1, end, a.attempt);
  if (e2 != std::errc() || a.job <= 0 || a.attempt <= 0) return std::nullopt;
  if (r == end) return a;
  if (*r != '-' || r + 1 == end) return std::nullopt;
  a.key.assign(r + 1, end);
  return a;
}

// Sorts the attempt directories of `jobs_dir` into those the store
// accounts for and the others.
core::Result<JobDirReport> SortAttempts(core::Store& store, const std::string& jobs_dir) {
  JobDirReport report;
  std::error_code ec;
  if (!fs::exists(jobs_dir, ec)) return report;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(jobs_dir, ec)) {
    if (entry.is_directory(ec)) names.push_back(entry.path().filename().string());
  }
  if (ec) return core::Internal(StrCat("cannot list ", jobs_dir, ": ", ec.message()));
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    auto a = ParseAttemptName(name);
    if (!a) continue;
    auto job = store.GetJob(core::JobId{a->job});
    if (!job && job.error().code != core::ErrorCode::kNotFound) return std::unexpected(job.error());
    const bool known = job && a->attempt <= job->attempt &&
                       (a->key.empty() || a->key == core::AttemptKey(*job, a->attempt));
    (known ? report.kept : report.set_aside).push_back(name);
  }
  return report;
}

}  // namespace

core::Result<std::vector<std::string>> UnknownAttempts(core::Store& store,
                                                       const std::string& jobs_dir) {
  auto sorted = SortAttempts(store, jobs_dir);
  if (!sorted) return std::unexpected(sorted.error());
  return std::move(sorted->set_aside);
}

core::Result<JobDirReport> SetAsideUnknownAttempts(core::Store& store, const std::string& jobs_dir,
                                                   const std::string& aside_dir) {
  auto report = SortAttempts(store, jobs_dir);
  if (!report) return std::unexpected(report.error());
  // A job of the lost past may still run (slussd stopped, its supervisor
  // did not): moving its directory from under it would lose its end and
  // leave its container and output mount behind. Nothing is moved then.
  for (const std::string& name : report->set_aside) {
    const std::string dir = StrCat(jobs_dir, "/", name);
    auto probe = sandbox::ProbeJob(dir);
    if (probe.state == sandbox::JobProbe::State::kRunning) {
      return core::Fail(
          core::ErrorCode::kFailedPrecondition,
          StrCat("job directory ", name, " is of a job that still runs (its supervisor, pid ",
                 probe.pid, ", holds its lock), so nothing was set aside: wait until it ends, or "
                 "stop it with 'sluss-run cancel ", dir, "', then run this again"));
    }
  }
  std::error_code ec;
  for (const std::string& name : report->set_aside) {
    const std::string dir = StrCat(jobs_dir, "/", name);
    // A lost one's container and output mount are cleared first.
    if (sandbox::ProbeJob(dir).state == sandbox::JobProbe::State::kLost) {
      if (auto r = sandbox::CleanUpLost(dir); !r) return std::unexpected(r.error());
    }
    fs::create_directories(aside_dir, ec);
    if (ec) return core::Internal(StrCat("cannot make ", aside_dir, ": ", ec.message()));
    fs::rename(fs::path(jobs_dir) / name, fs::path(aside_dir) / name, ec);
    if (ec) {
      return core::Internal(
          StrCat("cannot move ", jobs_dir, "/", name, " to ", aside_dir, ": ", ec.message()));
    }
  }
  return report;
}

}  // namespace sluss::executors
