// The scheduler's reads: every active job once (at its start), then only
// the jobs that changed, found through job_events, which every change of a
// job's status appends to (its id grows with each commit: writers are
// serialised, and rows are never deleted).

#include <sqlite3.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/strings.h"
#include "store/internal/job_rows.h"
#include "store/internal/sqlite.h"
#include "store/store.h"

namespace sluss::store {

using core::Result;
using core::StrCat;
using internal::kJobColumns;
using internal::ReadJob;
using internal::Stmt;
using internal::Transaction;

namespace {

// The jobs of `rows` by id, each job moved once.
std::vector<core::Job> SortedById(std::vector<core::Job> rows) {
  std::vector<std::pair<std::int64_t, std::size_t>> order;  // id, row
  order.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) order.emplace_back(rows[i].id.value, i);
  std::ranges::sort(order);
  std::vector<core::Job> out;
  out.reserve(rows.size());
  for (const auto& [id, row] : order) out.push_back(std::move(rows[row]));
  return out;
}

core::Job* Find(std::vector<core::Job>& jobs, std::int64_t id) {
  auto it = std::ranges::lower_bound(jobs, id, {}, [](const core::Job& j) { return j.id.value; });
  return it != jobs.end() && it->id.value == id ? &*it : nullptr;
}

}  // namespace

Result<std::int64_t> SqliteStore::LastJobEventLocked() {
  Stmt& s = Prepare("SELECT coalesce(max(id), 0) FROM job_events");
  if (s.Step() != SQLITE_ROW) return std::unexpected(internal::SqliteError(db_, "job events"));
  return s.Int(0);
}

Result<void> SqliteStore::ReadNeedsLocked(Stmt& n, core::ActiveJobs& out) {
  int rc;
  while ((rc = n.Step()) == SQLITE_ROW) {
    core::Job* job = Find(out.jobs, n.Int(0));
    if (!job) continue;
    core::JobId need{n.Int(1)};
    job->needs.push_back(need);
    out.needs[need] = {core::ParseStatusCode(n.Text(2)).value_or(core::StatusCode::kInternalError),
                       n.Text(3)};
  }
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "job needs"));
  for (auto& job : out.jobs) std::ranges::sort(job.needs, {}, [](core::JobId j) { return j.value; });
  return {};
}

Result<core::ActiveJobs> SqliteStore::ListActiveJobs() {
  auto lock = Lock();
  // One consistent snapshot, without the write lock: with 100,000 jobs
  // queued this reads for a while, and writers need not wait for it.
  Transaction tx(db_, Transaction::Mode::kRead);
  if (!tx.begun()) return std::unexpected(internal::SqliteError(db_, "active jobs"));
  core::ActiveJobs out;
  auto cursor = LastJobEventLocked();
  if (!cursor) return std::unexpected(cursor.error());
  out.cursor = *cursor;
  // No ORDER BY: with many pending jobs SQLite would sort them in a
  // temporary B-tree, spilled to a file every cycle; sorting here is cheaper.
  static const std::string sql =
      StrCat("SELECT ", kJobColumns, " FROM jobs WHERE state IN ('pending', 'running')");
  Stmt& s = Prepare(sql.c_str());
  std::vector<core::Job> rows;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) rows.push_back(ReadJob(s));
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "active jobs"));
  out.jobs = SortedById(std::move(rows));
  Stmt& n = Prepare(
      "SELECT n.job_id, n.needs_id, d.status, d.action FROM job_needs n "
      "JOIN jobs j ON j.id = n.job_id JOIN jobs d ON d.id = n.needs_id "
      "WHERE j.state IN ('pending', 'running')");
  SLUSS_RETURN_IF_ERROR(ReadNeedsLocked(n, out));
  SLUSS_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Result<core::ActiveJobs> SqliteStore::ListJobChanges(std::int64_t after) {
  auto lock = Lock();
  Transaction tx(db_, Transaction::Mode::kRead);
  if (!tx.begun()) return std::unexpected(internal::SqliteError(db_, "changed jobs"));
  core::ActiveJobs out;
  auto cursor = LastJobEventLocked();
  if (!cursor) return std::unexpected(cursor.error());
  out.cursor = *cursor;
  if (out.cursor <= after) {  // nothing changed: the common case, one index probe
    SLUSS_RETURN_IF_ERROR(tx.Commit());
    return out;
  }
  static const std::string sql = StrCat(
      "SELECT ", kJobColumns,
      " FROM jobs WHERE id IN (SELECT job_id FROM job_events WHERE id > ?1 AND id <= ?2)");
  Stmt& s = Prepare(sql.c_str());
  s.Bind(1, after).Bind(2, out.cursor);
  std::vector<core::Job> rows;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) rows.push_back(ReadJob(s));
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "changed jobs"));
  out.jobs = SortedById(std::move(rows));
  Stmt& n = Prepare(
      "SELECT n.job_id, n.needs_id, d.status, d.action FROM job_needs n "
      "JOIN jobs d ON d.id = n.needs_id "
      "WHERE n.job_id IN (SELECT job_id FROM job_events WHERE id > ?1 AND id <= ?2)");
  n.Bind(1, after).Bind(2, out.cursor);
  SLUSS_RETURN_IF_ERROR(ReadNeedsLocked(n, out));
  SLUSS_RETURN_IF_ERROR(tx.Commit());
  return out;
}

}  // namespace sluss::store

namespace sluss::store {

Result<std::vector<core::Job>> SqliteStore::ListRunJobs(
    core::RunId run, std::int64_t after, int limit, const std::vector<core::StatusCode>& statuses) {
  nlohmann::json wanted = nlohmann::json::array();
  for (auto code : statuses) wanted.push_back(core::Name(code));
  auto lock = Lock();
  Transaction tx(db_, Transaction::Mode::kRead);
  if (!tx.begun()) return std::unexpected(internal::SqliteError(db_, "run jobs"));
  static const std::string sql = StrCat(
      "SELECT ", kJobColumns,
      " FROM jobs WHERE run_id = ?1 AND id > ?2 AND (?3 = '[]' OR status IN "
      "(SELECT value FROM json_each(?3))) ORDER BY id LIMIT ?4");
  Stmt& s = Prepare(sql.c_str());
  s.Bind(1, run.value).Bind(2, after).Bind(3, wanted.dump()).Bind(4, std::clamp(limit, 1, 10000));
  std::vector<core::Job> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadJob(s));
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "run jobs"));
  if (out.empty()) return out;
  // Per job: a filtered page may span the whole run.
  Stmt& n = Prepare("SELECT needs_id FROM job_needs WHERE job_id = ? ORDER BY needs_id");
  for (auto& job : out) {
    n.Reset();
    n.Bind(1, job.id.value);
    while ((rc = n.Step()) == SQLITE_ROW) job.needs.push_back(core::JobId{n.Int(0)});
    if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "run jobs"));
  }
  SLUSS_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Result<std::map<core::StatusCode, std::int64_t>> SqliteStore::CountRunJobs(core::RunId run) {
  auto lock = Lock();
  Stmt& s = Prepare("SELECT status, count(*) FROM jobs WHERE run_id = ? GROUP BY status");
  s.Bind(1, run.value);
  std::map<core::StatusCode, std::int64_t> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW)
    out[core::ParseStatusCode(s.Text(0)).value_or(core::StatusCode::kInternalError)] += s.Int(1);
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "count run jobs"));
  return out;
}

}  // namespace sluss::store
