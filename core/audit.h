#pragma once

// The audit log's records, their hash chain and RFC 6962 Merkle tree, signed
// checkpoints, and their verification. Pure: the store appends records
// (sealing each with SealAuditRecord inside the transaction that makes the
// change it records); the daemon signs checkpoints; `sluss audit verify`
// and GET /v1/audit/verify run AuditVerifier over what they read.
//
// A record's hash covers its sequence number, time, actor, action, subject,
// the SHA-256 of its payload and the previous record's hash, so the payload
// text itself may be deleted after retention and the chain, the tree and
// every checkpoint still verify. Payloads hold identifiers and hashes only,
// never health data.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/time.h"

namespace sluss::core {

// What happened, before it gets a place in the log.
struct AuditEvent {
  std::string actor;    // user name, "slussd", or "-" (unauthenticated)
  std::string action;   // "job.state", "permit.revoked", "api.denied", ...
  std::string subject;  // "job/12", "permit/P-7", "/v1/runs/3", ...
  nlohmann::json payload = nlohmann::json::object();
};

struct AuditRecord {
  std::int64_t seq = 0;  // 1, 2, ...
  TimePoint time;
  std::string actor;
  std::string action;
  std::string subject;
  std::optional<std::string> payload;  // JSON text; nullopt once purged
  std::string payload_hash;            // hex SHA-256 of the payload text
  std::string prev_hash;               // hex; kAuditGenesis for record 1
  std::string hash;                    // hex
};

inline constexpr std::string_view kAuditGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The hash of `r` from its fields (not from r.hash).
std::string AuditRecordHash(const AuditRecord& r);
// A complete record: payload serialised (keys sorted), hashed, chained.
AuditRecord SealAuditRecord(std::int64_t seq, TimePoint time, const AuditEvent& event,
                            std::string_view prev_hash);

// RFC 6962 Merkle tree hashing. The leaves are the records' hashes (32 raw
// bytes each), in sequence order.
Sha256Digest MerkleLeafHash(const Sha256Digest& record_hash);
// MTH over leaf hashes (already MerkleLeafHash'ed). Empty: SHA-256 of "".
Sha256Digest MerkleRoot(std::span<const Sha256Digest> leaf_hashes);
// PATH(index, D[n]) for n = leaf_hashes.size(). REQUIRES: index < n.
std::vector<Sha256Digest> InclusionProof(std::span<const Sha256Digest> leaf_hashes,
                                         std::size_t index);
// RFC 9162 section 2.1.3.2.
bool VerifyInclusion(const Sha256Digest& leaf_hash, std::uint64_t index, std::uint64_t tree_size,
                     std::span<const Sha256Digest> proof, const Sha256Digest& root);

// A signed statement "the first tree_size records have this Merkle root".
struct AuditCheckpoint {
  std::int64_t tree_size = 0;
  std::string root;  // hex
  TimePoint time;
  std::string key_id;     // core::KeyId of the public key
  std::string signature;  // hex Ed25519 over CheckpointMessage
};
std::string CheckpointMessage(const AuditCheckpoint& c);

struct AuditVerifyReport {
  bool ok = true;
  std::int64_t records = 0;
  std::int64_t checkpoints = 0;       // verified
  std::int64_t unsigned_records = 0;  // after the last checkpoint: chained only
  std::int64_t purged_payloads = 0;
  std::optional<std::int64_t> bad_seq;  // the first record found bad
  std::string problem;                  // for people, naming the record
};

// Checks a log record by record (in sequence order), then its checkpoints.
// Holds 32 bytes per record.
class AuditVerifier {
 public:
  // Feed records in the order read (sequence order); the first problem is
  // kept, later ones are ignored.
  void Add(const AuditRecord& r);
  // Checks the checkpoints (any order) against the records added, with
  // `public_pem` (empty: signatures are not checked, only the roots).
  AuditVerifyReport Finish(std::vector<AuditCheckpoint> checkpoints, std::string_view public_pem);

 private:
  void Fail(std::int64_t seq, std::string problem);
  AuditVerifyReport report_;
  std::string last_hash_{kAuditGenesis};
  std::int64_t expected_ = 1;
  std::vector<Sha256Digest> leaves_;
};

nlohmann::json ToJson(const AuditRecord& r);
Result<AuditRecord> AuditRecordFromJson(const nlohmann::json& j);
nlohmann::json ToJson(const AuditCheckpoint& c);
Result<AuditCheckpoint> AuditCheckpointFromJson(const nlohmann::json& j);

}  // namespace sluss::core
