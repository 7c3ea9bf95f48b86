#pragma once

// The audit anchor: the second witness of what the database held, kept in
// a directory configured apart from the state directory (audit.anchor_dir:
// other media, another host's mount), so that a state directory put back
// whole from an old copy (database, high-water mark and jobs/ together) is
// noticed at start. The mark beside the database rolls back with it; the
// anchor does not.
//
//   ANCHOR_DIR/audit-anchor.json
//   {"checkpoint": {"tree_size": 800, "root": "<hex>", "time_ms": ...,
//                   "key_id": "<16 hex>", "signature": "<128 hex>"},
//    "mark": {"instance": "<32 hex>", "audit_seq": 812, "audit_hash": "<hex>",
//             "last_job_id": 140},
//    "written_at": "2026-12-07T12:00:00Z"}
//
// `checkpoint` is the newest signed audit checkpoint (the first tree_size
// records have this Merkle root), verified with the audit key's public
// half: a forged anchor does not verify, and one signed by another key is
// refused. `mark` is a copy of the high-water mark, as fresh as the last
// write (slussd writes the anchor whenever the database moved on, like the
// mark): unsigned, as trustworthy as the directory it is in, and never
// older than the checkpoint. Written atomically (temporary file, fsync,
// rename, fsync of the directory).

#include <optional>
#include <string>

#include "core/audit.h"
#include "core/error.h"
#include "store/high_water.h"
#include "store/store.h"

namespace sluss::store {

struct AuditAnchor {
  core::AuditCheckpoint checkpoint;  // tree_size 0: none signed yet
  HighWater mark;

  bool operator==(const AuditAnchor& o) const {
    return checkpoint.tree_size == o.checkpoint.tree_size && checkpoint.root == o.checkpoint.root &&
           checkpoint.signature == o.checkpoint.signature && mark == o.mark;
  }
};

// The anchor file in `anchor_dir`.
std::string AuditAnchorPath(const std::string& anchor_dir);

// nullopt when there is no anchor file; an error (named, with what to do)
// for one that cannot be read or parsed.
core::Result<std::optional<AuditAnchor>> ReadAuditAnchor(const std::string& path);
core::Result<void> WriteAuditAnchor(const std::string& path, const AuditAnchor& anchor);

// What the database holds now: its newest checkpoint and its high-water mark.
core::Result<AuditAnchor> AuditAnchorOf(SqliteStore& store);

// The database against the anchor at `anchor_path`. `public_pem` is the
// audit key's public half (empty: there is no key). kFailedPrecondition,
// naming the anchor's and the database's values and what to do, when the
// anchor's checkpoint does not verify with that key (forged or damaged, or
// another key), or the database does not hold the checkpoint's records
// (fewer, or another Merkle root), or is behind the anchor's mark.
core::Result<void> CheckAgainstAuditAnchor(SqliteStore& store, const std::string& db_path,
                                           const std::string& anchor_path,
                                           const AuditAnchor& anchor,
                                           const std::string& public_pem);

// The Merkle root (hex) of the database's first `n` audit records.
core::Result<std::string> AuditRootOf(SqliteStore& store, std::int64_t n);

// Writes the anchor when the database moved on since `*last`; updates *last.
core::Result<bool> RefreshAuditAnchor(SqliteStore& store, const std::string& path,
                                      AuditAnchor* last);

}  // namespace sluss::store
