#pragma once

// AuditSigner: signs checkpoints of the audit log with an Ed25519 key kept
// outside the database, and applies retention. A checkpoint is made when
// `every` records were added since the last one, or `interval` passed with
// records added, and at shutdown. The key is created on first use (0600)
// with its public half beside it (.pub) for auditors; a key file that does
// not hold an Ed25519 key is an error, never silently replaced.

#include <chrono>
#include <cstdint>
#include <string>

#include "core/store.h"
#include "core/time.h"

namespace sluss::provenance {

struct AuditSignerOptions {
  std::string key_path;  // absolute
  std::int64_t every = 1000;
  std::chrono::seconds interval{300};
  std::chrono::days retention{400};
};

class AuditSigner {
 public:
  // Loads or creates the key. `store` and `clock` must outlive the signer.
  static core::Result<AuditSigner> Open(core::Store& store, const core::Clock& clock,
                                        AuditSignerOptions options);

  const std::string& public_pem() const { return public_pem_; }
  const std::string& key_id() const { return key_id_; }

  // Signs a checkpoint when one is due (or `force`, when any record is
  // unsigned). Returns the tree size signed, or 0 when none was due.
  core::Result<std::int64_t> MaybeCheckpoint(bool force = false);
  // Deletes payloads older than the retention, once a day at most.
  void MaybePurge();

 private:
  AuditSigner(core::Store& store, const core::Clock& clock, AuditSignerOptions options)
      : store_(&store), clock_(&clock), options_(std::move(options)) {}
  core::Store* store_;
  const core::Clock* clock_;
  AuditSignerOptions options_;
  std::string private_pem_;
  std::string public_pem_;
  std::string key_id_;
  std::int64_t last_size_ = 0;
  core::TimePoint last_time_;
  core::TimePoint last_purge_;
};

}  // namespace sluss::provenance
