#pragma once

// The state directory's guard and the commands that look after it:
//   slussd backup DIR [--config FILE]
//   slussd recover [--accept-loss] [--config FILE]
// and the start's check of the database against its high-water mark
// (store/high_water.h).

#include <memory>
#include <string>

#include "daemon/config.h"
#include "provenance/audit_signer.h"
#include "store/store.h"

namespace sluss::daemon {

// The audit key's file (audit.signing_key, or STATE_DIR/audit/ed25519.key),
// absolute, and the signer's options from the config.
std::string AuditKeyPath(const Config& cfg);
provenance::AuditSignerOptions SignerOptions(const Config& cfg);

// Holds an exclusive lock on STATE_DIR/slussd.lock for the process lifetime,
// so two daemons never share one state directory. -1 (logged) when another
// holds it.
int LockStateDir(const std::string& dir);

// Opens the database for slussd's start: refuses (logged, nullptr) one that
// cannot account for its high-water mark or for the audit anchor in
// audit.anchor_dir (store/audit_anchor.h), gives a new one its instance id
// and writes the mark.
std::unique_ptr<store::SqliteStore> OpenCheckedStore(const Config& cfg);

// `slussd backup DIR`: the database (online backup API), its high-water
// mark and the audit key's public half, into a new directory DIR.
int Backup(const Config& cfg, const std::string& dir);

// `slussd recover`: says what is wrong; with --accept-loss, goes on with
// what the database holds: job directories the database does not know are
// moved aside (reported), the loss is recorded in the audit log, and the
// mark is written anew.
int Recover(const Config& cfg, bool accept_loss);

}  // namespace sluss::daemon
