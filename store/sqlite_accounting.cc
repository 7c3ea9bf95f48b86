// SqliteStore: accounting, what a project's jobs used in a period.

#include <sqlite3.h>

#include "core/strings.h"
#include "store/internal/sqlite.h"
#include "store/store.h"

namespace sluss::store {

core::Result<std::vector<core::UsageRow>> SqliteStore::AccountJobs(std::string_view project,
                                                                   core::TimePoint from,
                                                                   core::TimePoint until) {
  auto lock = Lock();
  // The used_* columns are written from the typed result when it is
  // stored (ApplyUpdateLocked). Jobs that never ran (cached, refused,
  // cancelled while pending) count with zero use.
  internal::Stmt& s = Prepare(
      "SELECT r.submitted_by, j.status, count(*), "
      "  sum(j.used_cpu_seconds) / 3600.0, "
      "  sum(j.used_wall_seconds * j.used_gpus) / 3600.0, "
      "  sum(j.used_wall_seconds) / 3600.0 "
      "FROM jobs j JOIN runs r ON r.id = j.run_id "
      "WHERE j.project = ?1 AND j.state NOT IN ('pending', 'running') "
      "  AND j.ended_at >= ?2 AND j.ended_at < ?3 "
      "GROUP BY r.submitted_by, j.status ORDER BY r.submitted_by, j.status");
  s.Bind(1, project);
  s.Bind(2, core::ToUnixMillis(from));
  s.Bind(3, core::ToUnixMillis(until));
  std::vector<core::UsageRow> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    core::UsageRow row;
    row.user = s.Text(0);
    row.status = core::ParseStatusCode(s.Text(1)).value_or(core::StatusCode::kInternalError);
    row.jobs = s.Int(2);
    row.cpu_hours = s.Real(3);
    row.gpu_hours = s.Real(4);
    row.wall_hours = s.Real(5);
    out.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "account jobs"));
  return out;
}

core::Result<std::map<std::string, core::ProjectDisk>> SqliteStore::DiskByProject() {
  auto lock = Lock();
  // A commit's running jobs share one workspace (executors/workspaces.h):
  // counted once per commit, not once per job.
  internal::Stmt& s = Prepare(
      "SELECT o.project, o.bytes, coalesce(w.bytes, 0) FROM "
      "  (SELECT project, sum(output_bytes) AS bytes FROM jobs GROUP BY project) o "
      "LEFT JOIN "
      "  (SELECT project, sum(b) AS bytes FROM "
      "     (SELECT j.project AS project, max(j.workspace_bytes) AS b FROM jobs j "
      "      JOIN runs r ON r.id = j.run_id WHERE j.state = 'running' "
      "      GROUP BY j.project, r.commit_sha) "
      "   GROUP BY project) w "
      "ON w.project = o.project");
  std::map<std::string, core::ProjectDisk> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out[s.Text(0)] = {s.Int(1), s.Int(2)};
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "disk by project"));
  return out;
}

}  // namespace sluss::store
