// SqliteStore: release requests (the airlock's records).

#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "core/strings.h"
#include "store/internal/sqlite.h"
#include "store/store.h"

namespace sluss::store {

using core::ErrorCode;
using core::Fail;
using core::Result;
using core::StrCat;
using internal::Stmt;

namespace {

Result<core::Release> ReadRelease(const Stmt& s) {
  auto j = nlohmann::json::parse(s.Text(1), nullptr, /*allow_exceptions=*/false);
  auto r = core::ReleaseFromJson(j);
  if (!r) return core::Internal(StrCat("release request ", s.Int(0), " cannot be read"));
  // The columns are the truth for what the store itself keeps.
  r->id = s.Int(0);
  r->version = s.Int(2);
  r->state = s.Text(3);
  return r;
}

}  // namespace

Result<core::Release> SqliteStore::CreateRelease(const core::Release& release) {
  auto lock = Lock();
  internal::Transaction tx(db_);
  if (!tx.begun()) return std::unexpected(internal::SqliteError(db_, "create release"));
  core::Release r = release;
  r.version = 1;
  Stmt& s = Prepare(
      "INSERT INTO releases(project, author, state, version, created_at, updated_at, body) "
      "VALUES (?, ?, ?, 1, ?, ?, '{}')");
  s.Bind(1, r.project)
      .Bind(2, r.author)
      .Bind(3, r.state)
      .Bind(4, core::ToUnixMillis(r.created_at))
      .Bind(5, core::ToUnixMillis(r.updated_at));
  int rc = s.Step();
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return core::NotFound(StrCat("no project ", core::Quote(r.project)));
  if (rc == SQLITE_CONSTRAINT_UNIQUE) {
    Stmt& q = Prepare(
        "SELECT id FROM releases WHERE project = ? AND author = ? AND state IN ('pending', "
        "'submitted', 'partially_reviewed', 'reviewed', 'approved', 'returned')");
    q.Bind(1, r.project).Bind(2, r.author);
    std::string which = q.Step() == SQLITE_ROW ? StrCat(" (request ", q.Int(0), ")") : "";
    return Fail(ErrorCode::kAlreadyExists,
                StrCat(r.author, " has an open release request in project ", r.project, which,
                       "; add to it, or withdraw it first"));
  }
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "create release"));
  r.id = sqlite3_last_insert_rowid(db_);
  Stmt& b = Prepare("UPDATE releases SET body = ? WHERE id = ?");
  b.Bind(1, core::ToJson(r).dump()).Bind(2, r.id);
  if (b.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "create release"));
  SLUSS_RETURN_IF_ERROR(tx.Commit());
  return r;
}

Result<core::Release> SqliteStore::GetRelease(std::int64_t id) {
  auto lock = Lock();
  Stmt& s = Prepare("SELECT id, body, version, state FROM releases WHERE id = ?");
  s.Bind(1, id);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return core::NotFound(StrCat("no release request ", id));
  if (rc != SQLITE_ROW) return std::unexpected(internal::SqliteError(db_, "get release"));
  return ReadRelease(s);
}

Result<std::vector<core::Release>> SqliteStore::ListReleases(std::string_view project,
                                                             std::string_view author) {
  auto lock = Lock();
  Stmt& s = Prepare(
      "SELECT id, body, version, state FROM releases WHERE (?1 = '' OR project = ?1) "
      "AND (?2 = '' OR author = ?2) ORDER BY id DESC");
  s.Bind(1, project).Bind(2, author);
  std::vector<core::Release> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    auto r = ReadRelease(s);
    if (!r) return std::unexpected(r.error());
    out.push_back(std::move(*r));
  }
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "list releases"));
  return out;
}

Result<core::Release> SqliteStore::UpdateRelease(const core::Release& release) {
  auto lock = Lock();
  core::Release r = release;
  r.version = release.version + 1;
  Stmt& s = Prepare(
      "UPDATE releases SET state = ?, version = ?, updated_at = ?, body = ? "
      "WHERE id = ? AND version = ?");
  s.Bind(1, r.state)
      .Bind(2, r.version)
      .Bind(3, core::ToUnixMillis(r.updated_at))
      .Bind(4, core::ToJson(r).dump())
      .Bind(5, r.id)
      .Bind(6, release.version);
  int rc = s.Step();
  if (rc == SQLITE_CONSTRAINT_UNIQUE)
    return Fail(ErrorCode::kAlreadyExists,
                StrCat(r.author, " has another open release request in project ", r.project));
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "update release"));
  if (sqlite3_changes(db_) == 0) {
    Stmt& q = Prepare("SELECT 1 FROM releases WHERE id = ?");
    q.Bind(1, r.id);
    if (q.Step() != SQLITE_ROW) return core::NotFound(StrCat("no release request ", r.id));
    return Fail(ErrorCode::kConflict,
                StrCat("release request ", r.id, " was changed meanwhile; look again and retry"));
  }
  return r;
}

}  // namespace sluss::store
