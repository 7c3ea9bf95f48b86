// SqliteStore: opening a database (WAL, foreign keys, migrations by
// PRAGMA user_version, a read-only copy for auditors), the statement cache,
// and the integrity check.

#include <sqlite3.h>

#include "core/strings.h"
#include "store/internal/schema.h"
#include "store/internal/sqlite.h"
#include "store/store.h"

namespace sluss::store {

using core::ErrorCode;
using core::Fail;
using core::Result;
using core::StrCat;
using internal::Stmt;
using internal::Transaction;

SqliteStore::SqliteStore(sqlite3* db) : db_(db) {}

SqliteStore::~SqliteStore() {
  std::lock_guard lock(mu_);
  used_.clear();
  stmts_.clear();
  sqlite3_close_v2(db_);
}

int SqliteStore::LatestSchemaVersion() {
  return static_cast<int>(internal::Migrations().size());
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                               SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Fail(ErrorCode::kUnavailable,
                StrCat("cannot open database ", path, ": ", msg));
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);
  // journal_mode answers with the mode in force; WAL may be refused (e.g. on
  // some network file systems), which we do not accept silently.
  {
    Stmt s(db, "PRAGMA journal_mode=WAL");
    const int step = s.ok() ? s.Step() : SQLITE_ERROR;
    if (step != SQLITE_ROW) {
      // A damaged file (truncated, overwritten) fails here, before any
      // table is read: say so, not that WAL is refused.
      const int code = sqlite3_extended_errcode(db) & 0xff;
      const std::string msg = s.ok() ? sqlite3_errmsg(db) : s.error();
      if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {
        return Fail(ErrorCode::kFailedPrecondition,
                    StrCat("database ", path, " is damaged (", msg,
                           "): restore the newest backup (docs/operations.md, \"Restore\")"));
      }
      return Fail(ErrorCode::kUnavailable, StrCat("cannot open database ", path, ": ", msg));
    }
    if (s.Text(0) != "wal") {
      return Fail(ErrorCode::kFailedPrecondition,
                  StrCat("database ", path,
                         ": cannot use WAL journal mode (is it on a local "
                         "file system?)"));
    }
  }
  SLUSS_RETURN_IF_ERROR(internal::Exec(
      db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  {
    Stmt s(db, "PRAGMA application_id");
    if (!s.ok() || s.Step() != SQLITE_ROW) {
      return Fail(ErrorCode::kFailedPrecondition,
                  StrCat(path, " is not an SQLite database: ",
                         s.ok() ? sqlite3_errmsg(db) : s.error()));
    }
    std::int64_t app = s.Int(0);
    if (app != 0 && app != internal::kApplicationId) {
      return Fail(ErrorCode::kFailedPrecondition,
                  StrCat(path, " is an SQLite database of another program, "
                               "not of sluss"));
    }
  }
  auto lock = store->Lock();
  SLUSS_RETURN_IF_ERROR(store->Migrate());
  return store;
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::OpenReadOnly(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Fail(ErrorCode::kUnavailable, StrCat("cannot open database ", path, ": ", msg));
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);
  Stmt app(db, "PRAGMA application_id");
  if (!app.ok() || app.Step() != SQLITE_ROW || app.Int(0) != internal::kApplicationId)
    return Fail(ErrorCode::kFailedPrecondition, StrCat(path, " is not a sluss database"));
  Stmt v(db, "PRAGMA user_version");
  if (v.Step() != SQLITE_ROW || v.Int(0) > LatestSchemaVersion())
    return Fail(ErrorCode::kFailedPrecondition,
                StrCat(path, " has a schema newer than this program knows; use a newer sluss"));
  return store;
}

Result<void> SqliteStore::Migrate() {
  const auto& migrations = internal::Migrations();
  Transaction tx(db_);
  if (!tx.begun()) return std::unexpected(internal::SqliteError(db_, "migrate"));
  Stmt v(db_, "PRAGMA user_version");
  if (v.Step() != SQLITE_ROW) return std::unexpected(internal::SqliteError(db_, "migrate"));
  int version = static_cast<int>(v.Int(0));
  if (version > static_cast<int>(migrations.size())) {
    return Fail(ErrorCode::kFailedPrecondition,
                StrCat("the database has schema version ", version,
                       ", newer than this slussd knows (",
                       migrations.size(),
                       "); run the newer slussd, or restore the backup made "
                       "before the upgrade"));
  }
  if (version == 0) {
    Stmt t(db_, "SELECT count(*) FROM sqlite_master");
    if (t.Step() == SQLITE_ROW && t.Int(0) > 0) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "the database holds tables but no sluss schema version; it "
                  "is not a sluss database");
    }
  }
  for (std::size_t i = static_cast<std::size_t>(version); i < migrations.size(); ++i) {
    if (auto r = internal::Exec(db_, migrations[i]); !r) {
      return Fail(ErrorCode::kInternal,
                  StrCat("schema migration ", i + 1, " failed: ", r.error().message));
    }
  }
  SLUSS_RETURN_IF_ERROR(internal::Exec(
      db_, StrCat("PRAGMA application_id=", internal::kApplicationId,
                  "; PRAGMA user_version=", migrations.size())
               .c_str()));
  return tx.Commit();
}

Stmt& SqliteStore::Prepare(const char* sql) {
  auto it = stmts_.find(sql);
  if (it == stmts_.end()) {
    it = stmts_.emplace(sql, std::make_unique<Stmt>(db_, sql)).first;
  }
  it->second->Reset();
  used_.push_back(it->second.get());
  return *it->second;
}

void SqliteStore::ResetUsed() {
  for (Stmt* s : used_) s->Reset();
  used_.clear();
}

Result<void> SqliteStore::Atomically(const std::function<Result<void>()>& change) {
  auto lock = Lock();
  Transaction tx(db_);
  if (!tx.begun()) return std::unexpected(internal::SqliteError(db_, "begin"));
  SLUSS_RETURN_IF_ERROR(change());
  // An I/O error or a full disk inside `change` rolls SQLite's transaction
  // back on its own; what followed ran outside it and is not ours to keep.
  if (sqlite3_get_autocommit(db_) != 0) {
    return Fail(ErrorCode::kUnavailable,
                "the database rolled the change back (I/O error or full disk)");
  }
  return tx.Commit();
}

Result<void> SqliteStore::CheckIntegrity() {
  auto lock = Lock();
  Stmt s(db_, "PRAGMA integrity_check");
  if (s.Step() != SQLITE_ROW || s.Text(0) != "ok") {
    return Fail(ErrorCode::kInternal, StrCat("integrity_check: ", s.Text(0)));
  }
  Stmt f(db_, "PRAGMA foreign_key_check");
  if (f.Step() == SQLITE_ROW) {
    return Fail(ErrorCode::kInternal,
                StrCat("foreign_key_check: table ", f.Text(0), " row ", f.Int(1)));
  }
  return {};
}

}  // namespace sluss::store
