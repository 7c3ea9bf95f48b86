// SqliteStore: the audit log, dataset versions and permits.

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
using internal::Transaction;
using nlohmann::json;

namespace {

constexpr const char* kDatasetColumns =
    "name, version, path, state, id, files, bytes, hashed_bytes, error, registered_by, "
    "registered_at, verified_at";

core::DatasetVersion ReadDataset(const Stmt& s) {
  core::DatasetVersion d;
  d.name = s.Text(0);
  d.version = s.Text(1);
  d.path = s.Text(2);
  d.state = core::ParseDatasetState(s.Text(3)).value_or(core::DatasetVersion::State::kFailed);
  d.id = s.Text(4);
  d.files = s.Int(5);
  d.bytes = s.Int(6);
  d.hashed_bytes = s.Int(7);
  d.error = s.Text(8);
  d.registered_by = s.Text(9);
  d.registered_at = core::FromUnixMillis(s.Int(10));
  if (auto v = s.OptInt(11)) d.verified_at = core::FromUnixMillis(*v);
  return d;
}

constexpr const char* kPermitColumns =
    "id, project, body, granted_by, granted_at, revoked_at, revoked_by, revoke_reason";

core::Permit ReadPermit(const Stmt& s) {
  auto parsed = core::PermitFromJson(json::parse(s.Text(2), nullptr, false));
  core::Permit p = parsed ? *parsed : core::Permit{};
  p.id = s.Text(0);
  p.project = s.Text(1);
  p.granted_by = s.Text(3);
  p.granted_at = core::FromUnixMillis(s.Int(4));
  if (auto v = s.OptInt(5)) p.revoked_at = core::FromUnixMillis(*v);
  p.revoked_by = s.Text(6);
  p.revoke_reason = s.Text(7);
  return p;
}

json PermitBody(const core::Permit& p) {
  json j = core::ToJson(p);
  for (const char* k : {"granted_by", "granted_at", "revoked_at", "revoked_by", "revoke_reason"})
    j.erase(k);
  return j;
}

}  // namespace

Result<core::AuditRecord> SqliteStore::AppendAuditLocked(const core::AuditEvent& event,
                                                         core::TimePoint now) {
  Stmt& last = Prepare("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
  std::int64_t seq = 1;
  std::string prev(core::kAuditGenesis);
  int rc = last.Step();
  if (rc == SQLITE_ROW) {
    seq = last.Int(0) + 1;
    prev = last.Text(1);
  } else if (rc != SQLITE_DONE) {
    return std::unexpected(internal::SqliteError(db_, "read the audit log"));
  }
  core::AuditRecord r = core::SealAuditRecord(seq, now, event, prev);
  Stmt& ins = Prepare(
      "INSERT INTO audit(seq, at, actor, action, subject, payload_hash, prev_hash, hash) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  ins.Bind(1, r.seq)
      .Bind(2, core::ToUnixMillis(r.time))
      .Bind(3, r.actor)
      .Bind(4, r.action)
      .Bind(5, r.subject)
      .Bind(6, r.payload_hash)
      .Bind(7, r.prev_hash)
      .Bind(8, r.hash);
  if (ins.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "audit"));
  Stmt& pay = Prepare("INSERT INTO audit_payloads(seq, payload) VALUES (?, ?)");
  pay.Bind(1, r.seq).Bind(2, *r.payload);
  if (pay.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "audit"));
  return r;
}

Result<core::AuditRecord> SqliteStore::AppendAudit(const core::AuditEvent& event,
                                                   core::TimePoint now) {
  auto lock = Lock();
  Transaction tx(db_);
  if (!tx.begun()) return std::unexpected(internal::SqliteError(db_, "audit"));
  auto r = AppendAuditLocked(event, now);
  if (!r) return r;
  SLUSS_RETURN_IF_ERROR(tx.Commit());
  return r;
}

Result<std::vector<core::AuditRecord>> SqliteStore::ListAudit(std::int64_t after, int limit) {
  auto lock = Lock();
  Stmt& s = Prepare(
      "SELECT a.seq, a.at, a.actor, a.action, a.subject, a.payload_hash, a.prev_hash, a.hash, "
      "p.payload FROM audit a LEFT JOIN audit_payloads p ON p.seq = a.seq "
      "WHERE a.seq > ? ORDER BY a.seq LIMIT ?");
  s.Bind(1, after).Bind(2, limit);
  return internal::Collect<core::AuditRecord>(
      db_, s,
      [](const Stmt& row) {
        core::AuditRecord r;
        r.seq = row.Int(0);
        r.time = core::FromUnixMillis(row.Int(1));
        r.actor = row.Text(2);
        r.action = row.Text(3);
        r.subject = row.Text(4);
        r.payload_hash = row.Text(5);
        r.prev_hash = row.Text(6);
        r.hash = row.Text(7);
        if (!row.IsNull(8)) r.payload = row.Text(8);
        return r;
      },
      "list the audit log");
}

Result<std::int64_t> SqliteStore::AuditSize() {
  auto lock = Lock();
  Stmt& s = Prepare("SELECT coalesce(max(seq), 0) FROM audit");
  if (s.Step() != SQLITE_ROW) return std::unexpected(internal::SqliteError(db_, "audit size"));
  return s.Int(0);
}

Result<std::vector<core::Sha256Digest>> SqliteStore::AuditLeaves(std::int64_t n) {
  auto lock = Lock();
  Stmt& s = Prepare("SELECT hash FROM audit WHERE seq <= ? ORDER BY seq");
  s.Bind(1, n);
  return internal::Collect<core::Sha256Digest>(
      db_, s,
      [](const Stmt& row) {
        auto d = core::DigestFromHex(row.Text(0));
        return core::MerkleLeafHash(d ? *d : core::Sha256Digest{});
      },
      "read the audit tree");
}

Result<void> SqliteStore::AddAuditCheckpoint(const core::AuditCheckpoint& c) {
  auto lock = Lock();
  Stmt& s = Prepare(
      "INSERT INTO audit_checkpoints(tree_size, root, at, key_id, signature) "
      "VALUES (?, ?, ?, ?, ?)");
  s.Bind(1, c.tree_size)
      .Bind(2, c.root)
      .Bind(3, core::ToUnixMillis(c.time))
      .Bind(4, c.key_id)
      .Bind(5, c.signature);
  int rc = s.Step();
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    return Fail(ErrorCode::kAlreadyExists,
                StrCat("a checkpoint of ", c.tree_size, " records exists"));
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "audit checkpoint"));
  return {};
}

namespace {

// A row of `SELECT tree_size, root, at, key_id, signature FROM audit_checkpoints`.
core::AuditCheckpoint CheckpointOf(const internal::Stmt& row) {
  core::AuditCheckpoint c;
  c.tree_size = row.Int(0);
  c.root = row.Text(1);
  c.time = core::FromUnixMillis(row.Int(2));
  c.key_id = row.Text(3);
  c.signature = row.Text(4);
  return c;
}

}  // namespace

Result<std::vector<core::AuditCheckpoint>> SqliteStore::ListAuditCheckpoints() {
  auto lock = Lock();
  Stmt& s = Prepare(
      "SELECT tree_size, root, at, key_id, signature FROM audit_checkpoints ORDER BY tree_size");
  return internal::Collect<core::AuditCheckpoint>(
      db_, s,
      CheckpointOf,
      "list audit checkpoints");
}

Result<std::optional<core::AuditCheckpoint>> SqliteStore::LatestAuditCheckpoint() {
  auto lock = Lock();
  Stmt& s = Prepare(
      "SELECT tree_size, root, at, key_id, signature FROM audit_checkpoints "
      "ORDER BY tree_size DESC LIMIT 1");
  auto rows = internal::Collect<core::AuditCheckpoint>(
      db_, s,
      CheckpointOf,
      "read the newest audit checkpoint");
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::optional<core::AuditCheckpoint>();
  return std::optional<core::AuditCheckpoint>(rows->front());
}

Result<std::int64_t> SqliteStore::PurgeAuditPayloads(core::TimePoint before) {
  auto lock = Lock();
  Stmt& s = Prepare(
      "DELETE FROM audit_payloads WHERE seq IN (SELECT seq FROM audit WHERE at < ?)");
  s.Bind(1, core::ToUnixMillis(before));
  if (s.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "purge"));
  return static_cast<std::int64_t>(sqlite3_changes(db_));
}

Result<void> SqliteStore::CreateDataset(const core::DatasetVersion& d, core::TimePoint now) {
  auto lock = Lock();
  Transaction tx(db_);
  if (!tx.begun()) return std::unexpected(internal::SqliteError(db_, "register dataset"));
  Stmt& s = Prepare(
      "INSERT INTO datasets(name, version, path, state, registered_by, registered_at) "
      "VALUES (?, ?, ?, ?, ?, ?)");
  s.Bind(1, d.name)
      .Bind(2, d.version)
      .Bind(3, d.path)
      .Bind(4, core::Name(d.state))
      .Bind(5, d.registered_by)
      .Bind(6, core::ToUnixMillis(d.registered_at));
  int rc = s.Step();
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    return Fail(ErrorCode::kAlreadyExists,
                StrCat("dataset ", d.name, " version ", d.version,
                       " is registered; a version never changes: register a new version"));
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "register dataset"));
  auto a = AppendAuditLocked({d.registered_by, "dataset.registered",
                              StrCat("dataset/", d.name, "/", d.version),
                              {{"path", d.path}}},
                             now);
  if (!a) return std::unexpected(a.error());
  return tx.Commit();
}

Result<void> SqliteStore::UpdateDataset(const core::DatasetVersion& d, std::string_view actor,
                                        core::TimePoint now) {
  auto lock = Lock();
  Transaction tx(db_);
  if (!tx.begun()) return std::unexpected(internal::SqliteError(db_, "update dataset"));
  auto old = GetDatasetLocked(d.name, d.version);
  if (!old) return std::unexpected(old.error());
  Stmt& s = Prepare(
      "UPDATE datasets SET state = ?, id = ?, files = ?, bytes = ?, hashed_bytes = ?, "
      "error = ?, verified_at = ? WHERE name = ? AND version = ?");
  std::optional<std::int64_t> verified;
  if (d.verified_at) verified = core::ToUnixMillis(*d.verified_at);
  s.Bind(1, core::Name(d.state))
      .Bind(2, d.id)
      .Bind(3, d.files)
      .Bind(4, d.bytes)
      .Bind(5, d.hashed_bytes)
      .Bind(6, d.error)
      .Bind(7, verified)
      .Bind(8, d.name)
      .Bind(9, d.version);
  if (s.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "update dataset"));
  const std::string subject = StrCat("dataset/", d.name, "/", d.version);
  if (old->state != d.state) {
    json payload = {{"id", d.id}, {"files", d.files}, {"bytes", d.bytes}};
    if (!d.error.empty()) payload["error"] = d.error;
    auto a = AppendAuditLocked(
        {std::string(actor), StrCat("dataset.", core::Name(d.state)), subject, payload}, now);
    if (!a) return std::unexpected(a.error());
  } else if (d.verified_at != old->verified_at || d.error != old->error) {
    json payload = {{"id", d.id}, {"ok", d.error.empty()}};
    if (!d.error.empty()) payload["error"] = d.error;
    auto a = AppendAuditLocked({std::string(actor), "dataset.verified", subject, payload}, now);
    if (!a) return std::unexpected(a.error());
  }
  return tx.Commit();
}

Result<core::DatasetVersion> SqliteStore::GetDatasetLocked(std::string_view name,
                                                           std::string_view version) {
  static const std::string sql =
      StrCat("SELECT ", kDatasetColumns, " FROM datasets WHERE name = ? AND version = ?");
  Stmt& s = Prepare(sql.c_str());
  s.Bind(1, name).Bind(2, version);
  int rc = s.Step();
  if (rc == SQLITE_DONE)
    return core::NotFound(StrCat("no dataset ", name, " version ", version));
  if (rc != SQLITE_ROW) return std::unexpected(internal::SqliteError(db_, "get dataset"));
  return ReadDataset(s);
}

Result<core::DatasetVersion> SqliteStore::GetDataset(std::string_view name,
                                                     std::string_view version) {
  auto lock = Lock();
  return GetDatasetLocked(name, version);
}

Result<std::vector<core::DatasetVersion>> SqliteStore::ListDatasets() {
  auto lock = Lock();
  static const std::string sql =
      StrCat("SELECT ", kDatasetColumns, " FROM datasets ORDER BY name, registered_at");
  Stmt& s = Prepare(sql.c_str());
  return internal::Collect<core::DatasetVersion>(db_, s, ReadDataset, "list datasets");
}

Result<core::Permit> SqliteStore::CreatePermit(const core::Permit& p, core::TimePoint now) {
  auto lock = Lock();
  Transaction tx(db_);
  if (!tx.begun()) return std::unexpected(internal::SqliteError(db_, "grant permit"));
  Stmt& s = Prepare(
      "INSERT INTO permits(id, project, body, granted_by, granted_at) VALUES (?, ?, ?, ?, ?)");
  s.Bind(1, p.id)
      .Bind(2, p.project)
      .Bind(3, PermitBody(p).dump())
      .Bind(4, p.granted_by)
      .Bind(5, core::ToUnixMillis(now));
  int rc = s.Step();
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    return Fail(ErrorCode::kAlreadyExists, StrCat("permit ", p.id, " exists"), "id");
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
    return core::NotFound(StrCat("no project ", core::Quote(p.project)));
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "grant permit"));
  json body = PermitBody(p);
  body.erase("purpose");  // free text stays in the permit, not in the log
  auto a = AppendAuditLocked({p.granted_by, "permit.granted", StrCat("permit/", p.id), body}, now);
  if (!a) return std::unexpected(a.error());
  SLUSS_RETURN_IF_ERROR(tx.Commit());
  return GetPermitLocked(p.id);
}

Result<core::Permit> SqliteStore::GetPermitLocked(std::string_view id) {
  static const std::string sql = StrCat("SELECT ", kPermitColumns, " FROM permits WHERE id = ?");
  Stmt& s = Prepare(sql.c_str());
  s.Bind(1, id);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return core::NotFound(StrCat("no permit ", id));
  if (rc != SQLITE_ROW) return std::unexpected(internal::SqliteError(db_, "get permit"));
  return ReadPermit(s);
}

Result<core::Permit> SqliteStore::GetPermit(std::string_view id) {
  auto lock = Lock();
  return GetPermitLocked(id);
}

Result<std::vector<core::Permit>> SqliteStore::ListPermits(std::string_view project) {
  auto lock = Lock();
  static const std::string sql = StrCat("SELECT ", kPermitColumns,
                                        " FROM permits WHERE ?1 = '' OR project = ?1 ORDER BY id");
  Stmt& s = Prepare(sql.c_str());
  s.Bind(1, project);
  return internal::Collect<core::Permit>(db_, s, ReadPermit, "list permits");
}

Result<core::Permit> SqliteStore::RevokePermit(std::string_view id, std::string_view by,
                                               std::string_view reason, core::TimePoint now) {
  auto lock = Lock();
  Transaction tx(db_);
  if (!tx.begun()) return std::unexpected(internal::SqliteError(db_, "revoke permit"));
  auto p = GetPermitLocked(id);
  if (!p) return p;
  if (p->revoked_at)
    return Fail(ErrorCode::kFailedPrecondition,
                StrCat("permit ", id, " was revoked ", core::FormatRfc3339(*p->revoked_at)));
  Stmt& s = Prepare(
      "UPDATE permits SET revoked_at = ?, revoked_by = ?, revoke_reason = ? WHERE id = ?");
  s.Bind(1, core::ToUnixMillis(now)).Bind(2, by).Bind(3, reason).Bind(4, id);
  if (s.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "revoke permit"));
  auto a = AppendAuditLocked(
      {std::string(by), "permit.revoked", StrCat("permit/", id), {{"project", p->project}}}, now);
  if (!a) return std::unexpected(a.error());
  SLUSS_RETURN_IF_ERROR(tx.Commit());
  return GetPermitLocked(id);
}

}  // namespace sluss::store
