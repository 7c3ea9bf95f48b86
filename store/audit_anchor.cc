// The audit anchor (store/audit_anchor.h).

#include "store/audit_anchor.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/digest.h"
#include "core/strings.h"
#include "core/time.h"
#include "store/internal/durable_file.h"

namespace sluss::store {

using core::ErrorCode;
using core::Fail;
using core::Result;
using core::StrCat;
using nlohmann::json;

namespace {

// What to do, for every refusal that comes from the anchor.
constexpr const char* kAnchorHint =
    "restore the newest backup (docs/operations.md, \"Restore\"), or, to go on with what the "
    "database holds and record the loss in the audit log, run 'slussd recover --accept-loss' "
    "(it moves the anchor)";

std::string Short(const std::string& hex) { return hex.size() > 16 ? hex.substr(0, 16) : hex; }

std::string DescribeCheckpoint(const core::AuditCheckpoint& c) {
  return StrCat("a checkpoint signed by key ", c.key_id, " over audit records 1 to ", c.tree_size,
                " (root ", Short(c.root), "...)");
}

}  // namespace

std::string AuditAnchorPath(const std::string& anchor_dir) {
  return StrCat(anchor_dir, "/audit-anchor.json");
}

Result<std::optional<AuditAnchor>> ReadAuditAnchor(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::optional<AuditAnchor>();
    return Fail(ErrorCode::kFailedPrecondition,
                StrCat("cannot read the audit anchor ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  auto damaged = [&] {
    return Fail(ErrorCode::kFailedPrecondition,
                StrCat("the audit anchor ", path,
                       " is damaged: put back its copy if you keep one; if the database is "
                       "known good, run 'slussd recover --accept-loss' (it records this in the "
                       "audit log and writes a new anchor)"));
  };
  if (!j.is_object() || !j["checkpoint"].is_object() || !j["mark"].is_object()) return damaged();
  const json& c = j["checkpoint"];
  const json& m = j["mark"];
  if (!c["tree_size"].is_number_integer() || !c["root"].is_string() ||
      !c["time_ms"].is_number_integer() || !c["key_id"].is_string() ||
      !c["signature"].is_string() || !m["instance"].is_string() ||
      !m["audit_seq"].is_number_integer() || !m["audit_hash"].is_string() ||
      !m["last_job_id"].is_number_integer())
    return damaged();
  AuditAnchor a;
  a.checkpoint.tree_size = c["tree_size"].get<std::int64_t>();
  a.checkpoint.root = c["root"].get<std::string>();
  a.checkpoint.time = core::FromUnixMillis(c["time_ms"].get<std::int64_t>());
  a.checkpoint.key_id = c["key_id"].get<std::string>();
  a.checkpoint.signature = c["signature"].get<std::string>();
  a.mark.instance = m["instance"].get<std::string>();
  a.mark.audit_seq = m["audit_seq"].get<std::int64_t>();
  a.mark.audit_hash = m["audit_hash"].get<std::string>();
  a.mark.last_job_id = m["last_job_id"].get<std::int64_t>();
  if (a.checkpoint.tree_size < 0 || a.mark.audit_seq < 0) return damaged();
  return std::optional<AuditAnchor>(a);
}

Result<void> WriteAuditAnchor(const std::string& path, const AuditAnchor& a) {
  json j = {{"checkpoint",
             {{"tree_size", a.checkpoint.tree_size},
              {"root", a.checkpoint.root},
              {"time_ms", core::ToUnixMillis(a.checkpoint.time)},
              {"key_id", a.checkpoint.key_id},
              {"signature", a.checkpoint.signature}}},
            {"mark",
             {{"instance", a.mark.instance},
              {"audit_seq", a.mark.audit_seq},
              {"audit_hash", a.mark.audit_hash},
              {"last_job_id", a.mark.last_job_id}}},
            {"written_at", core::FormatRfc3339(core::SystemClock().Now())}};
  return internal::WriteFileWhole(path, j.dump() + "\n");
}

Result<AuditAnchor> AuditAnchorOf(SqliteStore& store) {
  AuditAnchor a;
  auto cp = store.LatestAuditCheckpoint();
  if (!cp) return std::unexpected(cp.error());
  if (*cp) a.checkpoint = **cp;
  auto mark = HighWaterOf(store);
  if (!mark) return std::unexpected(mark.error());
  a.mark = *mark;
  return a;
}

Result<std::string> AuditRootOf(SqliteStore& store, std::int64_t n) {
  auto leaves = store.AuditLeaves(n);
  if (!leaves) return std::unexpected(leaves.error());
  return core::ToHex(core::MerkleRoot(*leaves));
}

Result<void> CheckAgainstAuditAnchor(SqliteStore& store, const std::string& db_path,
                                     const std::string& anchor_path, const AuditAnchor& anchor,
                                     const std::string& public_pem) {
  auto now = HighWaterOf(store);
  if (!now) return std::unexpected(now.error());
  auto refuse = [&](const std::string& what) -> Result<void> {
    return Fail(ErrorCode::kFailedPrecondition, StrCat(what, ": ", kAnchorHint));
  };
  const core::AuditCheckpoint& c = anchor.checkpoint;
  if (c.tree_size > 0) {
    // The signature first: a forged anchor says nothing about the database.
    if (public_pem.empty()) {
      return refuse(StrCat("the audit anchor ", anchor_path, " holds ", DescribeCheckpoint(c),
                           ", but the audit key is missing, so it cannot be verified (the key "
                           "was removed, or the state directory was replaced): put the key "
                           "back from its copy"));
    }
    const std::string key_id = core::KeyId(public_pem);
    if (key_id != c.key_id) {
      return refuse(StrCat("the audit anchor ", anchor_path, " holds ", DescribeCheckpoint(c),
                           ", but the audit key is now key ", key_id,
                           ": the key was replaced, so the database's checkpoints cannot be "
                           "trusted; put the key back from its copy"));
    }
    auto valid = core::Ed25519Verify(public_pem, core::CheckpointMessage(c), c.signature);
    if (!valid || !*valid) {
      return refuse(StrCat("the audit anchor ", anchor_path, "'s checkpoint of ", c.tree_size,
                           " records does not verify with the audit key's public half (key ",
                           key_id, "): the anchor is forged or damaged; put back its copy"));
    }
    auto size = store.AuditSize();
    if (!size) return std::unexpected(size.error());
    if (*size < c.tree_size) {
      return refuse(StrCat("the database ", db_path, " holds ", *size,
                           " audit records, but the audit anchor ", anchor_path, " holds ",
                           DescribeCheckpoint(c),
                           ": the state directory was rolled back (an older copy of it put "
                           "back, with its high-water mark)"));
    }
    auto root = AuditRootOf(store, c.tree_size);
    if (!root) return std::unexpected(root.error());
    if (*root != c.root) {
      return refuse(StrCat("the database ", db_path, "'s audit records 1 to ", c.tree_size,
                           " have the Merkle root ", Short(*root), "..., but the audit anchor ",
                           anchor_path, " holds ", DescribeCheckpoint(c),
                           ": the database's past was replaced"));
    }
  }
  // The anchor's copy of the mark: fresher than its checkpoint.
  const HighWater& m = anchor.mark;
  auto behind = [&](const std::string& what) {
    return refuse(StrCat("the database ", db_path, " ", what, " (the audit anchor ", anchor_path,
                         " says audit record ", m.audit_seq, ", job ", m.last_job_id,
                         "; the database holds audit record ", now->audit_seq, ", job ",
                         now->last_job_id, ")"));
  };
  if (!m.instance.empty() && now->instance != m.instance) {
    return behind(now->instance.empty()
                      ? "has no instance id: it is empty or not this installation's"
                      : StrCat("belongs to another installation (instance ", now->instance,
                               ", the anchor's ", m.instance, ")"));
  }
  if (now->audit_seq < m.audit_seq || now->last_job_id < m.last_job_id)
    return behind("is behind the audit anchor: the state directory was rolled back");
  if (m.audit_seq > 0) {
    auto rec = store.ListAudit(m.audit_seq - 1, 1);
    if (!rec) return std::unexpected(rec.error());
    if (rec->empty() || rec->front().hash != m.audit_hash)
      return behind(StrCat("has another audit record ", m.audit_seq,
                           " than the anchor's: its past was replaced"));
  }
  return {};
}

Result<bool> RefreshAuditAnchor(SqliteStore& store, const std::string& path, AuditAnchor* last) {
  auto now = AuditAnchorOf(store);
  if (!now) return std::unexpected(now.error());
  if (*now == *last) return false;
  if (auto r = WriteAuditAnchor(path, *now); !r) return std::unexpected(r.error());
  *last = *now;
  return true;
}

}  // namespace sluss::store
