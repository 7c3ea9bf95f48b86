#pragma once

// The high-water mark: what slussd knows its database held, kept outside
// the database in a small file beside it (STATE_DIR/sluss.db.mark), so that
// a database that lost its past (a lost -wal, a zero-length or truncated
// file, an older backup put back) is noticed at start instead of served.
//
//   {"instance": "<32 hex>", "audit_seq": 812, "audit_hash": "<hex>",
//    "last_job_id": 140, "written_at": "2026-12-07T12:00:00Z"}
//
// The instance id is also in the database (setting "instance"); the mark is
// written atomically (temporary file, fsync, rename, fsync of the
// directory) while slussd runs, whenever the database moved on, and at
// stop. The database may be ahead of the mark (slussd was killed before it
// wrote the mark, or `slussd token create` wrote offline), never behind it.

#include <optional>
#include <string>

#include "core/error.h"
#include "store/store.h"

namespace sluss::store {

struct HighWater {
  std::string instance;  // empty: the database has none (empty or new)
  std::int64_t audit_seq = 0;
  std::string audit_hash;  // the record audit_seq's hash; empty when 0
  std::int64_t last_job_id = 0;

  bool operator==(const HighWater&) const = default;
};

// The mark file that belongs to the database at `db_path`.
std::string HighWaterPath(const std::string& db_path);

// nullopt when there is no mark file; an error for one that cannot be read
// or parsed (named, with what to do).
core::Result<std::optional<HighWater>> ReadHighWater(const std::string& path);
core::Result<void> WriteHighWater(const std::string& path, const HighWater& mark);

// What the database holds now.
core::Result<HighWater> HighWaterOf(SqliteStore& store);

// Before opening: a missing or zero-length database file where a mark says
// there was state. The error's message names the file, the mark and what
// to do (restore a backup, or `slussd recover --accept-loss`).
core::Result<void> CheckDatabaseFile(const std::string& db_path,
                                     const std::optional<HighWater>& mark);

// After opening: `quick_check`, then the database against the mark: its
// instance, audit sequence (and the hash of the mark's last record) and
// last job id. kFailedPrecondition, with what is wrong and what to do, when
// the database cannot account for the mark. Without a mark (a new state
// directory, or one from before marks), a database with state passes.
core::Result<void> CheckAgainstHighWater(SqliteStore& store, const std::string& db_path,
                                         const std::optional<HighWater>& mark);

// The database's instance id, made (random) when it has none. `preferred`:
// the id to give a database that has none (the mark's, on recovery).
core::Result<std::string> EnsureInstance(SqliteStore& store, const std::string& preferred);

// Writes the mark when the database moved on since `*last`; updates *last.
core::Result<bool> RefreshHighWater(SqliteStore& store, const std::string& path, HighWater* last);

// The message that starts every refusal, for the operator.
inline constexpr const char* kRecoverHint =
    "restore the newest backup (docs/operations.md, \"Restore\"), or, to go on with what the "
    "database holds and record the loss in the audit log, run 'slussd recover --accept-loss'";

}  // namespace sluss::store
