#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/job_spec.h"
#include "core/quota.h"
#include "core/strings.h"
#include "store/internal/job_rows.h"
#include "store/internal/schema.h"
#include "store/internal/sqlite.h"
#include "store/store.h"

namespace sluss::store {

using core::ErrorCode;
using core::Fail;
using core::Result;
using core::StrCat;
using internal::kJobColumns;
using internal::ReadJob;
using internal::Stmt;
using internal::Transaction;
using nlohmann::json;

namespace internal {

const char* const kJobColumns =
    "id, run_id, project, action, status, reason, attempt, spec, cache_key, "
    "created_at, updated_at, started_at, ended_at, exit_code, node, gpus, "
    "result, eligible_at, placed_milli_cpus, placed_memory_bytes, placed_time_s, "
    "placed_disk_bytes";

core::Job ReadJob(const Stmt& s) {
  core::Job j;
  j.id = core::JobId{s.Int(0)};
  j.run_id = core::RunId{s.Int(1)};
  j.project = s.Text(2);
  j.action = s.Text(3);
  j.status = core::ParseStatusCode(s.Text(4)).value_or(core::StatusCode::kInternalError);
  j.reason = s.Text(5);
  j.attempt = static_cast<int>(s.Int(6));
  j.spec_json = s.Text(7);
  j.cache_key = s.Text(8);
  j.created_at = core::FromUnixMillis(s.Int(9));
  j.updated_at = core::FromUnixMillis(s.Int(10));
  if (auto v = s.OptInt(11)) j.started_at = core::FromUnixMillis(*v);
  if (auto v = s.OptInt(12)) j.ended_at = core::FromUnixMillis(*v);
  if (auto v = s.OptInt(13)) j.exit_code = static_cast<int>(*v);
  j.node = s.Text(14);
  // Most jobs have none: no parser for "[]".
  const std::string gpus_text = s.Text(15);
  auto gpus = gpus_text == "[]" ? nlohmann::json::array()
                                : nlohmann::json::parse(gpus_text, nullptr, false);
  if (gpus.is_array())
    for (const auto& g : gpus)
      if (g.is_string()) j.gpus.push_back(g.get<std::string>());
  j.result_json = s.Text(16);
  if (auto v = s.OptInt(17)) j.eligible_at = core::FromUnixMillis(*v);
  if (!s.IsNull(18)) {
    core::Resources r;
    r.gpus = static_cast<int>(j.gpus.size());
    r.milli_cpus = s.Int(18);
    r.memory_bytes = s.Int(19);
    r.time_limit = std::chrono::seconds(s.Int(20));
    r.disk_bytes = s.Int(21);
    j.placed = r;
  }
  return j;
}

}  // namespace internal

namespace {

constexpr const char* kRunColumns =
    "id, project, commit_sha, ref, trigger, submitted_by, state, errors, "
    "created_at, updated_at";

core::Run ReadRun(const Stmt& s) {
  core::Run r;
  r.id = core::RunId{s.Int(0)};
  r.project = s.Text(1);
  r.commit = s.Text(2);
  r.ref = s.Text(3);
  r.trigger = s.Text(4);
  r.submitted_by = s.Text(5);
  r.state = core::ParseRunState(s.Text(6)).value_or(core::RunState::kFailed);
  json errors = json::parse(s.Text(7), nullptr, /*allow_exceptions=*/false);
  if (errors.is_array()) {
    for (const auto& e : errors) {
      if (e.is_string()) r.errors.push_back(e.get<std::string>());
    }
  }
  r.created_at = core::FromUnixMillis(s.Int(8));
  r.updated_at = core::FromUnixMillis(s.Int(9));
  return r;
}

}  // namespace

// ---- projects ---------------------------------------------------------------

Result<void> SqliteStore::CreateProject(const core::Project& p) {
  SLUSS_RETURN_IF_ERROR(core::CheckProjectName(p.name));
  auto lock = Lock();
  Stmt& s = Prepare(
      "INSERT INTO projects(name, description, repo_url, branches, quota, "
      "created_at) VALUES (?, ?, ?, ?, ?, ?)");
  s.Bind(1, p.name)
      .Bind(2, p.description)
      .Bind(3, p.repo_url)
      .Bind(4, json(p.branches).dump())
      .Bind(5, core::QuotaToJson(p.quota).dump())
      .Bind(6, core::ToUnixMillis(p.created_at));
  int rc = s.Step();
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return Fail(ErrorCode::kAlreadyExists,
                StrCat("project ", core::Quote(p.name), " already exists"));
  }
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "create project"));
  return {};
}

namespace {
core::Project ReadProject(const Stmt& s) {
  core::Project p;
  p.name = s.Text(0);
  p.description = s.Text(1);
  p.repo_url = s.Text(2);
  json branches = json::parse(s.Text(3), nullptr, false);
  if (branches.is_array()) {
    for (const auto& b : branches) {
      if (b.is_string()) p.branches.push_back(b.get<std::string>());
    }
  }
  json quota = json::parse(s.Text(4), nullptr, false);
  if (auto q = core::QuotaFromJson(quota)) p.quota = *q;
  p.created_at = core::FromUnixMillis(s.Int(5));
  return p;
}
constexpr const char* kProjectSelect =
    "SELECT name, description, repo_url, branches, quota, created_at FROM "
    "projects";
}  // namespace

Result<core::Project> SqliteStore::GetProject(std::string_view name) {
  auto lock = Lock();
  static const std::string sql = StrCat(kProjectSelect, " WHERE name = ?");
  Stmt& s = Prepare(sql.c_str());
  s.Bind(1, name);
  int rc = s.Step();
  if (rc == SQLITE_DONE) {
    return core::NotFound(StrCat("no project ", core::Quote(name)));
  }
  if (rc != SQLITE_ROW) return std::unexpected(internal::SqliteError(db_, "get project"));
  return ReadProject(s);
}

Result<std::vector<core::Project>> SqliteStore::ListProjects() {
  auto lock = Lock();
  static const std::string sql = StrCat(kProjectSelect, " ORDER BY name");
  Stmt& s = Prepare(sql.c_str());
  return internal::Collect<core::Project>(db_, s, ReadProject, "list projects");
}

// ---- runs -------------------------------------------------------------------

Result<core::Run> SqliteStore::CreateRun(const core::NewRun& run,
                                         core::TimePoint now) {
  // Validate the whole run before writing anything.
  std::map<std::string, std::size_t> by_action;
  for (std::size_t i = 0; i < run.jobs.size(); ++i) {
    const core::NewJob& j = run.jobs[i];
    if (!by_action.emplace(j.action, i).second) {
      return core::InvalidArgument(
          StrCat("two jobs for action ", core::Quote(j.action)), "jobs");
    }
    if (!core::IsValidInitialStatus(j.status)) {
      return core::InvalidArgument(
          StrCat("job ", core::Quote(j.action), " cannot start as ",
                 core::Name(j.status)),
          "jobs");
    }
  }
  for (const core::NewJob& j : run.jobs) {
    for (const std::string& n : j.needs) {
      if (!by_action.contains(n)) {
        return core::InvalidArgument(
            StrCat("job ", core::Quote(j.action), " needs ", core::Quote(n),
                   ", which is not in the run"),
            "jobs");
      }
    }
  }
  std::vector<core::StatusCode> codes;
  for (const auto& j : run.jobs) codes.push_back(j.status);
  core::RunState state = core::DeriveRunState(codes, !run.errors.empty());
  std::int64_t at = core::ToUnixMillis(now);

  auto lock = Lock();
  Transaction tx(db_);
  if (!tx.begun()) return std::unexpected(internal::SqliteError(db_, "create run"));
  Stmt& rs = Prepare(
      "INSERT INTO runs(project, commit_sha, ref, trigger, submitted_by, "
      "state, errors, created_at, updated_at, dedupe_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  rs.Bind(1, run.project)
      .Bind(2, run.commit)
      .Bind(3, run.ref)
      .Bind(4, run.trigger)
      .Bind(5, run.submitted_by)
      .Bind(6, core::Name(state))
      .Bind(7, json(run.errors).dump())
      .Bind(8, at)
      .Bind(9, at);
  if (run.dedupe_key.empty()) rs.BindNull(10); else rs.Bind(10, run.dedupe_key);
  int rc = rs.Step();
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
    return core::NotFound(StrCat("no project ", core::Quote(run.project)));
  }
  if (rc == SQLITE_CONSTRAINT_UNIQUE) {
    return Fail(ErrorCode::kAlreadyExists,
                StrCat("a run for ", core::Quote(run.dedupe_key), " exists"));
  }
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "create run"));
  core::RunId run_id{sqlite3_last_insert_rowid(db_)};

  std::vector<std::int64_t> job_ids(run.jobs.size());
  Stmt& js = Prepare(
      "INSERT INTO jobs(run_id, project, action, state, status, reason, "
      "attempt, spec, cache_key, created_at, updated_at, ended_at) "
      "VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)");
  Stmt& es = Prepare(
      "INSERT INTO job_events(job_id, at, from_status, to_status, reason, "
      "attempt) VALUES (?, ?, NULL, ?, ?, 1)");
  for (std::size_t i = 0; i < run.jobs.size(); ++i) {
    const core::NewJob& j = run.jobs[i];
    js.Reset();
    js.Bind(1, run_id.value)
        .Bind(2, run.project)
        .Bind(3, j.action)
        .Bind(4, core::Name(core::StateOf(j.status)))
        .Bind(5, core::Name(j.status))
        .Bind(6, j.reason)
        .Bind(7, j.spec_json)
        .Bind(8, j.cache_key)
        .Bind(9, at)
        .Bind(10, at);
    if (core::IsTerminal(j.status)) js.Bind(11, at); else js.BindNull(11);
    if (js.Step() != SQLITE_DONE) {
      return std::unexpected(internal::SqliteError(db_, "create job"));
    }
    job_ids[i] = sqlite3_last_insert_rowid(db_);
    es.Reset();
    es.Bind(1, job_ids[i]).Bind(2, at).Bind(3, core::Name(j.status)).Bind(4, j.reason);
    if (es.Step() != SQLITE_DONE) {
      return std::unexpected(internal::SqliteError(db_, "create job event"));
    }
  }
  {
    json jobs = json::array();
    for (std::size_t i = 0; i < run.jobs.size(); ++i)
      jobs.push_back({{"job", job_ids[i]}, {"action", run.jobs[i].action},
                      {"status", core::Name(run.jobs[i].status)},
                      {"cache_key", run.jobs[i].cache_key}});
    json payload = {{"project", run.project}, {"commit", run.commit}, {"ref", run.ref},
                    {"trigger", run.trigger}, {"jobs", jobs}};
    if (!run.errors.empty()) payload["errors"] = run.errors.size();
    auto a = AppendAuditLocked({run.submitted_by.empty() ? std::string("-") : run.submitted_by,
                                run.errors.empty() ? "run.created" : "run.refused",
                                StrCat("run/", run_id.value), payload},
                               now);
    if (!a) return std::unexpected(a.error());
  }
  Stmt& ns = Prepare("INSERT INTO job_needs(job_id, needs_id) VALUES (?, ?)");
  for (std::size_t i = 0; i < run.jobs.size(); ++i) {
    for (const std::string& n : run.jobs[i].needs) {
      ns.Reset();
      ns.Bind(1, job_ids[i]).Bind(2, job_ids[by_action.at(n)]);
      if (ns.Step() != SQLITE_DONE) {
        return std::unexpected(internal::SqliteError(db_, "create job needs"));
      }
    }
  }
  SLUSS_RETURN_IF_ERROR(tx.Commit());
  return GetRunLocked(run_id);
}

Result<core::Run> SqliteStore::GetRun(core::RunId id) {
  auto lock = Lock();
  return GetRunLocked(id);
}

Result<core::Run> SqliteStore::GetRunLocked(core::RunId id) {
  static const std::string sql = StrCat("SELECT ", kRunColumns, " FROM runs WHERE id = ?");
  Stmt& s = Prepare(sql.c_str());
  s.Bind(1, id.value);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return core::NotFound(StrCat("no run ", id.value));
  if (rc != SQLITE_ROW) return std::unexpected(internal::SqliteError(db_, "get run"));
  return ReadRun(s);
}

Result<core::Run> SqliteStore::GetRunByDedupeKey(std::string_view key) {
  auto lock = Lock();
  static const std::string sql = StrCat("SELECT ", kRunColumns, " FROM runs WHERE dedupe_key = ?");
  Stmt& s = Prepare(sql.c_str());
  s.Bind(1, key);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return core::NotFound(StrCat("no run for ", core::Quote(key)));
  if (rc != SQLITE_ROW) return std::unexpected(internal::SqliteError(db_, "get run"));
  return ReadRun(s);
}

Result<std::optional<core::JobId>> SqliteStore::FindSucceededJob(std::string_view project,
                                                                 std::string_view cache_key) {
  auto lock = Lock();
  Stmt& s = Prepare(
      "SELECT id FROM jobs WHERE project = ? AND cache_key = ? AND status = 'succeeded' "
      "ORDER BY id DESC LIMIT 1");
  s.Bind(1, project).Bind(2, cache_key);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<core::JobId>();
  if (rc != SQLITE_ROW) return std::unexpected(internal::SqliteError(db_, "find job"));
  return std::optional<core::JobId>(core::JobId{s.Int(0)});
}

Result<std::vector<core::Run>> SqliteStore::ListRuns(const core::RunFilter& f) {
  std::string sql = StrCat("SELECT ", kRunColumns, " FROM runs WHERE 1");
  if (f.project) sql += " AND project = ?1";
  if (f.state) sql += " AND state = ?2";
  if (f.before) sql += " AND id < ?3";
  if (f.projects) {
    sql += " AND project IN (SELECT value FROM json_each(?5))";
  }
  if (f.ref) sql += " AND ref = ?6";
  sql += " ORDER BY id DESC LIMIT ?4";
  auto lock = Lock();
  Stmt s(db_, sql);
  if (!s.ok()) return core::Internal(StrCat("list runs: ", s.error()));
  if (f.project) s.Bind(1, *f.project);
  if (f.state) s.Bind(2, core::Name(*f.state));
  if (f.before) s.Bind(3, f.before->value);
  s.Bind(4, std::clamp(f.limit, 1, 1000));
  if (f.projects) s.Bind(5, json(*f.projects).dump());
  if (f.ref) s.Bind(6, *f.ref);
  return internal::Collect<core::Run>(db_, s, ReadRun, "list runs");
}

Result<void> SqliteStore::UpdateRunStateLocked(core::RunId id, core::TimePoint now) {
  // The distinct statuses are enough (DeriveRunState asks what is present),
  // and come from the index alone.
  Stmt& s = Prepare("SELECT DISTINCT status FROM jobs WHERE run_id = ?");
  s.Bind(1, id.value);
  std::vector<core::StatusCode> codes;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    codes.push_back(core::ParseStatusCode(s.Text(0)).value_or(core::StatusCode::kInternalError));
  }
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "run state"));
  Stmt& u = Prepare("UPDATE runs SET state = ?, updated_at = ? WHERE id = ?");
  u.Bind(1, core::Name(core::DeriveRunState(codes, false)))
      .Bind(2, core::ToUnixMillis(now))
      .Bind(3, id.value);
  if (u.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "run state"));
  return {};
}

// ---- jobs -------------------------------------------------------------------

Result<core::Job> SqliteStore::GetJob(core::JobId id) {
  auto lock = Lock();
  return GetJobLocked(id);
}

Result<core::Job> SqliteStore::GetJobLocked(core::JobId id) {
  // One statement: the job and its needs (as "3,4,9"), the API's hot path.
  static const std::string sql = StrCat(
      "SELECT ", kJobColumns,
      ", (SELECT group_concat(needs_id) FROM (SELECT needs_id FROM job_needs "
      "WHERE job_id = jobs.id ORDER BY needs_id)) FROM jobs WHERE id = ?");
  Stmt& s = Prepare(sql.c_str());
  s.Bind(1, id.value);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return core::NotFound(StrCat("no job ", id.value));
  if (rc != SQLITE_ROW) return std::unexpected(internal::SqliteError(db_, "get job"));
  core::Job job = ReadJob(s);
  // The needs come after every column of kJobColumns.
  static const int needs_column = [] {
    const std::string_view columns = kJobColumns;
    return static_cast<int>(std::count(columns.begin(), columns.end(), ',')) + 1;
  }();
  std::string needs = s.Text(needs_column);
  std::size_t start = 0;
  while (start < needs.size()) {
    std::size_t comma = needs.find(',', start);
    if (comma == std::string::npos) comma = needs.size();
    job.needs.push_back(core::JobId{std::stoll(needs.substr(start, comma - start))});
    start = comma + 1;
  }
  return job;
}

Result<std::vector<core::Job>> SqliteStore::ListJobs(core::RunId run) {
  auto lock = Lock();
  static const std::string sql =
      StrCat("SELECT ", kJobColumns, " FROM jobs WHERE run_id = ? ORDER BY id");
  Stmt& s = Prepare(sql.c_str());
  s.Bind(1, run.value);
  std::vector<core::Job> out;
  std::map<std::int64_t, std::size_t> index;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back(ReadJob(s));
    index[out.back().id.value] = out.size() - 1;
  }
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "list jobs"));
  Stmt& n = Prepare(
      "SELECT n.job_id, n.needs_id FROM job_needs n JOIN jobs j ON j.id = "
      "n.job_id WHERE j.run_id = ? ORDER BY n.job_id, n.needs_id");
  n.Bind(1, run.value);
  while ((rc = n.Step()) == SQLITE_ROW) {
    out[index.at(n.Int(0))].needs.push_back(core::JobId{n.Int(1)});
  }
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "list jobs"));
  return out;
}

Result<core::Job> SqliteStore::TransitionJob(core::JobId id,
                                             core::StatusCode expected,
                                             core::StatusCode to,
                                             std::string_view reason,
                                             core::TimePoint now,
                                             const core::JobUpdate& update) {
  auto lock = Lock();
  Transaction tx(db_);
  if (!tx.begun()) return std::unexpected(internal::SqliteError(db_, "transition"));
  auto moved = TransitionLocked(id, expected, to, reason, now, update);
  if (!moved) return moved;
  SLUSS_RETURN_IF_ERROR(tx.Commit());
  return moved;
}

Result<std::vector<Result<core::Job>>> SqliteStore::TransitionJobs(
    const std::vector<core::JobTransition>& batch, core::TimePoint now) {
  std::vector<Result<core::Job>> out;
  if (batch.empty()) return out;
  auto lock = Lock();
  Transaction tx(db_);
  if (!tx.begun()) return std::unexpected(internal::SqliteError(db_, "transitions"));
  out.reserve(batch.size());
  std::set<std::int64_t> runs;
  for (const auto& t : batch) {
    // A savepoint each: a transition that fails halfway leaves nothing.
    SLUSS_RETURN_IF_ERROR(internal::Exec(db_, "SAVEPOINT one"));
    auto moved = TransitionLocked(t.id, t.expected, t.to, t.reason, now, t.update,
                                  /*run_state=*/false);
    if (!moved) SLUSS_RETURN_IF_ERROR(internal::Exec(db_, "ROLLBACK TO one"));
    SLUSS_RETURN_IF_ERROR(internal::Exec(db_, "RELEASE one"));
    if (moved) runs.insert(moved->run_id.value);
    out.push_back(std::move(moved));
  }
  for (std::int64_t run : runs) SLUSS_RETURN_IF_ERROR(UpdateRunStateLocked(core::RunId{run}, now));
  SLUSS_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Result<core::Job> SqliteStore::TransitionLocked(core::JobId id, core::StatusCode expected,
                                                core::StatusCode to, std::string_view reason,
                                                core::TimePoint now,
                                                const core::JobUpdate& update,
                                                bool run_state) {
  auto job = GetJobLocked(id);
  if (!job) return std::unexpected(job.error());
  if (job->status != expected) {
    return Fail(ErrorCode::kConflict,
                StrCat("job ", id.value, " is ", core::Name(job->status),
                       ", not ", core::Name(expected)));
  }
  SLUSS_RETURN_IF_ERROR(core::CheckTransition(expected, to));
  bool retry = core::IsRetry(expected, to);
  int attempt = job->attempt + (retry ? 1 : 0);
  std::int64_t at = core::ToUnixMillis(now);
  Stmt& u = Prepare(
      "UPDATE jobs SET state = ?, status = ?, reason = ?, attempt = ?, "
      "updated_at = ?, "
      "started_at = CASE WHEN ?6 THEN ?5 WHEN ?7 THEN NULL ELSE started_at END, "
      "ended_at = CASE WHEN ?8 THEN ?5 WHEN ?7 THEN NULL ELSE ended_at END, "
      "exit_code = CASE WHEN ?7 THEN NULL ELSE exit_code END "
      "WHERE id = ?9");
  u.Bind(1, core::Name(core::StateOf(to)))
      .Bind(2, core::Name(to))
      .Bind(3, reason)
      .Bind(4, attempt)
      .Bind(5, at)
      .Bind(6, to == core::StatusCode::kPreparing ? 1 : 0)
      .Bind(7, retry ? 1 : 0)
      .Bind(8, core::IsTerminal(to) ? 1 : 0)
      .Bind(9, id.value);
  if (u.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "transition"));
  SLUSS_RETURN_IF_ERROR(ApplyUpdateLocked(id, update));
  Stmt& e = Prepare(
      "INSERT INTO job_events(job_id, at, from_status, to_status, reason, "
      "attempt) VALUES (?, ?, ?, ?, ?, ?)");
  e.Bind(1, id.value)
      .Bind(2, at)
      .Bind(3, core::Name(expected))
      .Bind(4, core::Name(to))
      .Bind(5, reason)
      .Bind(6, attempt);
  if (e.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "job event"));
  {
    json payload = {{"run", job->run_id.value}, {"project", job->project},
                    {"action", job->action}, {"from", core::Name(expected)},
                    {"to", core::Name(to)}, {"attempt", attempt}};
    if (update.node) payload["node"] = *update.node;
    if (update.gpus) payload["gpus"] = *update.gpus;
    if (update.result_json) payload["result_sha256"] = core::Sha256Hex(*update.result_json);
    auto a = AppendAuditLocked({"slussd", "job.status", StrCat("job/", id.value), payload}, now);
    if (!a) return std::unexpected(a.error());
  }
  if (run_state) SLUSS_RETURN_IF_ERROR(UpdateRunStateLocked(job->run_id, now));
  return GetJobLocked(id);
}

Result<void> SqliteStore::ApplyUpdateLocked(core::JobId id, const core::JobUpdate& update) {
  // One statement; a NULL parameter leaves its column as it is.
  Stmt& u = Prepare(
      "UPDATE jobs SET node = coalesce(?1, node), gpus = coalesce(?2, gpus), "
      "result = coalesce(?3, result), exit_code = coalesce(?4, exit_code), "
      "eligible_at = CASE WHEN ?6 THEN ?5 ELSE eligible_at END, "
      "used_cpu_seconds = coalesce(?8, used_cpu_seconds), "
      "used_wall_seconds = coalesce(?9, used_wall_seconds), "
      "used_gpus = coalesce(?10, used_gpus), "
      "placed_milli_cpus = coalesce(?11, placed_milli_cpus), "
      "placed_memory_bytes = coalesce(?12, placed_memory_bytes), "
      "placed_time_s = coalesce(?13, placed_time_s), "
      "placed_disk_bytes = coalesce(?14, placed_disk_bytes), "
      "output_bytes = coalesce(?15, output_bytes), "
      "workspace_bytes = coalesce(?16, workspace_bytes) WHERE id = ?7");
  std::optional<std::string> gpus;
  if (update.gpus) gpus = nlohmann::json(*update.gpus).dump();
  // What the attempt used, for accounting, from the typed result; a result
  // that does not load counts as nothing used.
  std::optional<double> cpu, wall;
  std::optional<std::int64_t> used_gpus, output_bytes;
  if (update.result_json) {
    auto r = core::ParseJobResult(*update.result_json);
    cpu = r ? r->cpu_seconds : 0.0;
    wall = r ? r->wall_seconds : 0.0;
    used_gpus = r ? static_cast<std::int64_t>(r->gpus.size()) : 0;
    output_bytes = r ? r->outputs_bytes : 0;
  }
  std::optional<std::int64_t> eligible;
  if (update.eligible_at) eligible = core::ToUnixMillis(*update.eligible_at);
  u.Bind(1, update.node)
      .Bind(2, gpus)
      .Bind(3, update.result_json)
      .Bind(4, update.exit_code)
      .Bind(5, eligible)
      .Bind(6, update.eligible_at ? 1 : 0)
      .Bind(7, id.value)
      .Bind(8, cpu)
      .Bind(9, wall)
      .Bind(10, used_gpus);
  if (update.placed) {
    u.Bind(11, update.placed->milli_cpus)
        .Bind(12, update.placed->memory_bytes)
        .Bind(13, static_cast<std::int64_t>(update.placed->time_limit.count()))
        .Bind(14, update.placed->disk_bytes);
  } else {
    u.BindNull(11).BindNull(12).BindNull(13).BindNull(14);
  }
  u.Bind(15, output_bytes).Bind(16, update.workspace_bytes);
  if (u.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "update job"));
  return {};
}

Result<void> SqliteStore::UpdateJob(core::JobId id, int attempt, const core::JobUpdate& update) {
  auto lock = Lock();
  Transaction tx(db_);
  if (!tx.begun()) return std::unexpected(internal::SqliteError(db_, "update job"));
  auto job = GetJobLocked(id);
  if (!job) return std::unexpected(job.error());
  if (job->attempt != attempt)
    return Fail(ErrorCode::kConflict, StrCat("job ", id.value, " is at attempt ", job->attempt,
                                             ", not ", attempt));
  if (update.reason) {
    // Not before the engine recorded the launch (its own reason would
    // replace this one), nor after the end (the end's reason stands).
    if (job->status != core::StatusCode::kExecuting)
      return Fail(ErrorCode::kFailedPrecondition,
                  StrCat("job ", id.value, " is ", core::Name(job->status), ", not executing"));
    Stmt& r = Prepare("UPDATE jobs SET reason = ? WHERE id = ?");
    r.Bind(1, *update.reason).Bind(2, id.value);
    if (r.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "job reason"));
  }
  SLUSS_RETURN_IF_ERROR(ApplyUpdateLocked(id, update));
  return tx.Commit();
}

Result<std::vector<core::JobEvent>> SqliteStore::ListJobEvents(core::JobId id) {
  auto lock = Lock();
  Stmt& s = Prepare(
      "SELECT id, job_id, at, from_status, to_status, reason, attempt FROM "
      "job_events WHERE job_id = ? ORDER BY id");
  s.Bind(1, id.value);
  std::vector<core::JobEvent> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    core::JobEvent ev;
    ev.id = core::JobEventId{s.Int(0)};
    ev.job_id = core::JobId{s.Int(1)};
    ev.at = core::FromUnixMillis(s.Int(2));
    std::string from = s.Text(3);
    if (!from.empty()) ev.from = core::ParseStatusCode(from);
    ev.to = core::ParseStatusCode(s.Text(4)).value_or(core::StatusCode::kInternalError);
    ev.reason = s.Text(5);
    ev.attempt = static_cast<int>(s.Int(6));
    out.push_back(std::move(ev));
  }
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "job events"));
  return out;
}

Result<std::vector<core::JobCount>> SqliteStore::CountJobs(std::string_view project) {
  auto lock = Lock();
  Stmt& s = Prepare(
      "SELECT project, state, count(*) FROM jobs WHERE ?1 = '' OR project = ?1 "
      "GROUP BY project, state ORDER BY project, state");
  s.Bind(1, project);
  std::vector<core::JobCount> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back({s.Text(0), core::ParseJobState(s.Text(1)).value_or(core::JobState::kFailed),
                   s.Int(2)});
  }
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "count jobs"));
  return out;
}

}  // namespace sluss::store
