#pragma once

// Thin RAII helpers over the SQLite C API, for store/ only.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace sluss::store::internal {

// A prepared statement. Reset and cleared on each use through Stmt::Use.
class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  const std::string& error() const { return error_; }

  void Reset();
  Stmt& Bind(int index, std::int64_t v);
  Stmt& Bind(int index, int v) { return Bind(index, std::int64_t{v}); }
  Stmt& Bind(int index, double v);
  Stmt& Bind(int index, std::string_view v);
  Stmt& Bind(int index, const char* v) { return Bind(index, std::string_view(v)); }
  Stmt& Bind(int index, const std::string& v) { return Bind(index, std::string_view(v)); }
  Stmt& BindNull(int index);
  template <typename T>
  Stmt& Bind(int index, const std::optional<T>& v) {
    return v ? Bind(index, *v) : BindNull(index);
  }

  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int Step();

  std::int64_t Int(int col) const;
  double Real(int col) const;
  std::optional<std::int64_t> OptInt(int col) const;
  std::string Text(int col) const;
  bool IsNull(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string error_;
};

// Every row of `stmt`, each turned into a T by `read(stmt)`.
template <typename T, typename Read>
core::Result<std::vector<T>> Collect(sqlite3* db, Stmt& stmt, Read read, std::string_view what);

// Runs one or more statements that return no rows.
core::Result<void> Exec(sqlite3* db, const char* sql);

core::Error SqliteError(sqlite3* db, std::string_view what);

// BEGIN IMMEDIATE ... COMMIT; rolls back unless committed. Inside an
// open transaction (SqliteStore::Atomically) it is a savepoint instead,
// released on Commit and rolled back to otherwise, so that the outer
// transaction decides what reaches the disk.
class Transaction {
 public:
  // kWrite takes SQLite's write lock at once (BEGIN IMMEDIATE), so a
  // transaction never fails half-way for a lock; kRead is a snapshot for
  // several reads (BEGIN: with WAL it blocks no writer).
  enum class Mode { kWrite, kRead };
  explicit Transaction(sqlite3* db, Mode mode = Mode::kWrite)
      : db_(db), nested_(sqlite3_get_autocommit(db) == 0) {
    const char* begin = nested_                ? "SAVEPOINT sluss_nested"
                        : mode == Mode::kWrite ? "BEGIN IMMEDIATE"
                                               : "BEGIN";
    begun_ = Exec(db, begin).has_value();
  }
  ~Transaction() {
    if (!begun_ || committed_) return;
    // An error may have rolled SQLite's transaction back already.
    if (sqlite3_get_autocommit(db_) != 0) return;
    (void)Exec(db_, nested_ ? "ROLLBACK TO sluss_nested; RELEASE sluss_nested" : "ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  bool begun() const { return begun_; }
  core::Result<void> Commit() {
    auto r = Exec(db_, nested_ ? "RELEASE sluss_nested" : "COMMIT");
    if (r) committed_ = true;
    return r;
  }

 private:
  sqlite3* db_;
  bool nested_ = false;
  bool begun_ = false;
  bool committed_ = false;
};

#define SLUSS_RETURN_IF_ERROR(expr)                                 \
  do {                                                              \
    if (auto _r = (expr); !_r) return std::unexpected(_r.error()); \
  } while (0)

template <typename T, typename Read>
core::Result<std::vector<T>> Collect(sqlite3* db, Stmt& stmt, Read read, std::string_view what) {
  std::vector<T> out;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) out.push_back(read(stmt));
  if (rc != SQLITE_DONE) return std::unexpected(SqliteError(db, what));
  return out;
}

}  // namespace sluss::store::internal
