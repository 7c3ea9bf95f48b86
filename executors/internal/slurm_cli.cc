#include "executors/internal/slurm_cli.h"

#include <time.h>

#include <algorithm>
#include <cctype>

#include "core/strings.h"

namespace sluss::executors::internal {
namespace {

using core::StrCat;

bool AllDigits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Whole units of `unit`, rounded up; at least 1.
std::int64_t CeilDiv(std::int64_t v, std::int64_t unit) {
  return std::max<std::int64_t>(1, (v + unit - 1) / unit);
}

}  // namespace

std::string JobName(const std::string& prefix, core::JobId job, int attempt,
                    const std::string& attempt_key) {
  return StrCat(prefix, "-", job.value, "-", attempt, "-", attempt_key.substr(0, 8));
}

bool IsOurs(const std::string& prefix, std::string_view name) {
  if (name.size() <= prefix.size() + 1 || name.substr(0, prefix.size()) != prefix ||
      name[prefix.size()] != '-')
    return false;
  // <job>-<attempt>-<key>: three parts, the first two numbers.
  std::string_view rest = name.substr(prefix.size() + 1);
  auto a = rest.find('-');
  if (a == std::string_view::npos) return false;
  auto b = rest.find('-', a + 1);
  if (b == std::string_view::npos) return false;
  return AllDigits(rest.substr(0, a)) && AllDigits(rest.substr(a + 1, b - a - 1)) &&
         !rest.substr(b + 1).empty();
}

std::vector<SlurmJob> ParseJobList(std::string_view text) {
  std::vector<SlurmJob> jobs;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    std::vector<std::string_view> f;
    for (std::size_t at = 0;;) {
      auto bar = line.find('|', at);
      f.push_back(
          line.substr(at, bar == std::string_view::npos ? std::string_view::npos : bar - at));
      if (bar == std::string_view::npos) break;
      at = bar + 1;
    }
    if ((f.size() != 5 && f.size() != 6) || !AllDigits(f[0])) continue;  // also sacct's steps: "12.batch"
    SlurmJob j;
    j.id = f[0];
    j.name = f[1];
    std::string_view state = f[2];
    state = state.substr(0, state.find(' '));  // sacct: "CANCELLED by 0"
    j.state = state;
    j.reason = f[3];
    j.nodes = f[4] == "None assigned" ? "" : std::string(f[4]);
    if (f.size() == 6) j.partition = f[5];
    jobs.push_back(std::move(j));
  }
  return jobs;
}

std::string ParseSbatchId(std::string_view text) {
  // sbatch may print warnings first; the id is the last line.
  text = Trim(text);
  auto nl = text.rfind('\n');
  std::string_view last = nl == std::string_view::npos ? text : text.substr(nl + 1);
  last = Trim(last.substr(0, last.find(';')));
  return AllDigits(last) ? std::string(last) : std::string();
}

std::string PendingText(const SlurmJob& job) {
  std::string text = "waiting in Slurm: " + job.reason;
  std::string notes;
  if (!job.partition.empty()) notes = "partition " + job.partition;
  if (job.reason == "JobHeldAdmin" || job.reason == "JobHeldUser")
    notes += std::string(notes.empty() ? "" : "; ") + "held until `scontrol release " + job.id + "`";
  if (!notes.empty()) text += " (" + notes + ")";
  return text;
}

bool SbatchRefused(std::string_view text) {
  // Slurm 22.05's words for a request it will never take; anything else
  // (contact, timeouts, "temporarily", a submit limit) may pass later.
  for (std::string_view refused :
       {"Invalid", "invalid", "Requested node configuration is not available",
        "Requested partition configuration not available", "More processors requested than",
        "Memory required by task is not available", "Requested time limit",
        "Node count specification", "Unable to open file", "not allowed",
        "Job dependency problem", "Access/permission denied"})
    if (text.find(refused) != std::string_view::npos) return true;
  return false;
}

Phase PhaseOf(std::string_view state) {
  static constexpr std::string_view kPending[] = {"PENDING", "REQUEUED", "REQUEUE_HOLD",
                                                  "REQUEUE_FED", "RESV_DEL_HOLD"};
  static constexpr std::string_view kEnded[] = {
      "BOOT_FAIL",     "CANCELLED", "COMPLETED", "DEADLINE",     "FAILED", "NODE_FAIL",
      "OUT_OF_MEMORY", "PREEMPTED", "REVOKED",   "SPECIAL_EXIT", "TIMEOUT"};
  for (auto s : kPending)
    if (state == s) return Phase::kPending;
  for (auto s : kEnded)
    if (state == s) return Phase::kEnded;
  // RUNNING, CONFIGURING, COMPLETING, SUSPENDED, STOPPED, SIGNALING,
  // STAGE_OUT, RESIZING: the attempt holds its allocation.
  return Phase::kRunning;
}

bool NodeFailed(std::string_view state) { return state == "NODE_FAIL" || state == "BOOT_FAIL"; }

core::JobOutcome OutcomeOfSlurm(const SlurmJob& job,
                                std::optional<core::Executor::CancelMode> cancel_asked) {
  using core::StatusCode;
  core::JobOutcome o;
  const std::string who = StrCat("Slurm job ", job.id, job.nodes.empty() ? "" : " on ", job.nodes);
  const std::string s = job.state;
  if (s == "TIMEOUT" || s == "DEADLINE") {
    o.status = StatusCode::kTimedOut;
    o.message = StrCat(who, " ended at its Slurm time limit (", s, ")");
  } else if (s == "OUT_OF_MEMORY") {
    o.status = StatusCode::kOomKilled;
    o.message = StrCat(who, " ran out of memory (OUT_OF_MEMORY)");
  } else if (NodeFailed(s) || s == "PREEMPTED") {
    o.status = StatusCode::kNodeLost;
    o.message = StrCat(who, " ended with ", s, " before sluss-run wrote a result");
  } else if (s == "CANCELLED") {
    if (cancel_asked == core::Executor::CancelMode::kSupervisor) {
      o.status = StatusCode::kNodeLost;
      o.message = StrCat(who, " was cancelled: its supervisor did not answer a stop");
    } else if (cancel_asked) {
      o.status = StatusCode::kCancelledByUser;
      o.message = StrCat(who, " cancelled");
    } else {
      o.status = StatusCode::kKilledByAdmin;
      o.message = StrCat(who, " was cancelled in Slurm, not by sluss");
    }
  } else {
    o.status = StatusCode::kInternalError;
    o.message = StrCat(who, " ended ", s, job.reason.empty() || job.reason == "None" ? "" : " (",
                       job.reason == "None" ? "" : job.reason,
                       job.reason.empty() || job.reason == "None" ? "" : ")",
                       " without a result from sluss-run (is the jobs directory on a file system "
                       "the nodes share, and sluss-run installed there?)");
  }
  return o;
}

std::vector<std::string> SbatchArgs(const SubmitSettings& s, const core::LaunchRequest& r,
                                    const std::string& name, const std::string& dir,
                                    const std::set<std::string>& exclude) {
  const auto& res = r.resources;
  const std::int64_t mib = std::int64_t{1} << 20;
  const std::int64_t seconds = res.time_limit.count() + s.kill_grace_seconds + 60;
  std::vector<std::string> a = {
      "sbatch",
      "--parsable",
      "--no-requeue",
      StrCat("--job-name=", name),
      StrCat("--output=", dir, "/slurm.out"),
      "--export=NONE",
      "--nodes=1",
      "--ntasks=1",
      StrCat("--cpus-per-task=", CeilDiv(res.milli_cpus, 1000)),
      StrCat("--mem=", CeilDiv(res.memory_bytes + s.memory_overhead_bytes, mib), "M"),
      StrCat("--time=", CeilDiv(seconds, 60)),
  };
  if (res.gpus > 0) a.push_back(StrCat("--gres=gpu:", res.gpus));
  if (!s.partition.empty()) a.push_back(StrCat("--partition=", s.partition));
  if (!s.account.empty()) a.push_back(StrCat("--account=", s.account));
  if (!s.qos.empty()) a.push_back(StrCat("--qos=", s.qos));
  if (!exclude.empty()) {
    std::string nodes;
    for (const auto& n : exclude) nodes += (nodes.empty() ? "" : ",") + n;
    a.push_back(StrCat("--exclude=", nodes));
  }
  a.push_back(StrCat(dir, "/job.sbatch"));
  return a;
}

std::string ShellQuote(std::string_view s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  return q + "'";
}

std::string BatchScript(const std::string& sluss_run, const std::string& dir) {
  // --export=NONE: nothing of slussd's environment (tokens, keys) reaches
  // the node; sluss-run finds the runtime on this PATH.
  return StrCat("#!/bin/sh\n",
                "# Written by slussd: runs this attempt under sluss-run on the node Slurm chose.\n",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
                "export PATH\n", "exec ", ShellQuote(sluss_run), " run ", ShellQuote(dir), "\n");
}

std::string SacctTime(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  struct tm tm {};
  ::localtime_r(&tt, &tm);  // sacct reads --starttime in local time
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

}  // namespace sluss::executors::internal
