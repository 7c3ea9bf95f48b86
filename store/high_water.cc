// The high-water mark (store/high_water.h), the quick check and the online
// backup.

#include "store/high_water.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/strings.h"
#include "store/internal/durable_file.h"
#include "core/time.h"
#include "store/internal/sqlite.h"

namespace sluss::store {

using core::ErrorCode;
using core::Fail;
using core::Result;
using core::StrCat;
using internal::Stmt;
using nlohmann::json;

namespace {

std::string Describe(const HighWater& m) {
  return StrCat("audit record ", m.audit_seq, ", job ", m.last_job_id);
}

}  // namespace

std::string HighWaterPath(const std::string& db_path) { return db_path + ".mark"; }

Result<std::optional<HighWater>> ReadHighWater(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::optional<HighWater>();
    return Fail(ErrorCode::kFailedPrecondition,
                StrCat("cannot read the high-water mark ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  HighWater m;
  if (!j.is_object() || !j["instance"].is_string() || !j["audit_seq"].is_number_integer() ||
      !j["audit_hash"].is_string() || !j["last_job_id"].is_number_integer()) {
    return Fail(ErrorCode::kFailedPrecondition,
                StrCat("the high-water mark ", path,
                       " is damaged: if the database is known good, run 'slussd recover "
                       "--accept-loss' (it records this in the audit log and writes a new "
                       "mark); otherwise restore the newest backup"));
  }
  m.instance = j["instance"].get<std::string>();
  m.audit_seq = j["audit_seq"].get<std::int64_t>();
  m.audit_hash = j["audit_hash"].get<std::string>();
  m.last_job_id = j["last_job_id"].get<std::int64_t>();
  return std::optional<HighWater>(m);
}

Result<void> WriteHighWater(const std::string& path, const HighWater& m) {
  json j = {{"instance", m.instance},
            {"audit_seq", m.audit_seq},
            {"audit_hash", m.audit_hash},
            {"last_job_id", m.last_job_id},
            {"written_at", core::FormatRfc3339(core::SystemClock().Now())}};
  return internal::WriteFileWhole(path, j.dump() + "\n");
}

Result<HighWater> HighWaterOf(SqliteStore& store) {
  HighWater m;
  auto instance = store.GetSetting("instance");
  if (instance) {
    json j = json::parse(*instance, nullptr, false);
    if (j.is_object() && j["id"].is_string()) m.instance = j["id"].get<std::string>();
  } else if (instance.error().code != ErrorCode::kNotFound) {
    return std::unexpected(instance.error());
  }
  auto size = store.AuditSize();
  if (!size) return std::unexpected(size.error());
  m.audit_seq = *size;
  if (*size > 0) {
    auto last = store.ListAudit(*size - 1, 1);
    if (!last) return std::unexpected(last.error());
    if (!last->empty()) m.audit_hash = last->front().hash;
  }
  auto job = store.LastJobId();
  if (!job) return std::unexpected(job.error());
  m.last_job_id = *job;
  return m;
}

Result<void> CheckDatabaseFile(const std::string& db_path, const std::optional<HighWater>& mark) {
  if (!mark) return {};
  struct stat st {};
  if (::stat(db_path.c_str(), &st) != 0) {
    return Fail(
        ErrorCode::kFailedPrecondition,
        StrCat("the database ", db_path, " is missing, but the high-water mark ",
               HighWaterPath(db_path), " says it held ", Describe(*mark), ": ", kRecoverHint));
  }
  if (st.st_size == 0) {
    return Fail(ErrorCode::kFailedPrecondition,
                StrCat("the database ", db_path,
                       " is empty (zero bytes), but the high-water mark says it held ",
                       Describe(*mark), ": ", kRecoverHint));
  }
  return {};
}

Result<void> CheckAgainstHighWater(SqliteStore& store, const std::string& db_path,
                                   const std::optional<HighWater>& mark) {
  if (auto r = store.QuickCheck(); !r) {
    return Fail(ErrorCode::kFailedPrecondition,
                StrCat("the database ", db_path, " is damaged (", r.error().message,
                       "): restore the newest backup (docs/operations.md, \"Restore\")"));
  }
  if (!mark) return {};
  auto now = HighWaterOf(store);
  if (!now) return std::unexpected(now.error());
  const std::string mark_path = HighWaterPath(db_path);
  auto refuse = [&](std::string what) -> Result<void> {
    return Fail(
        ErrorCode::kFailedPrecondition,
        StrCat("the database ", db_path, " ", what, " (the high-water mark ", mark_path, " says ",
               Describe(*mark), "; the database holds ", Describe(*now), "): ", kRecoverHint));
  };
  if (now->instance.empty()) {
    return refuse(now->audit_seq == 0 && now->last_job_id == 0
                      ? "is empty: its runs, jobs, tokens and audit log are gone"
                      : "has no instance id: it is not this installation's database");
  }
  if (now->instance != mark->instance) {
    return refuse(StrCat("belongs to another installation (instance ", now->instance,
                         ", the mark's ", mark->instance, ")"));
  }
  if (now->audit_seq < mark->audit_seq || now->last_job_id < mark->last_job_id) {
    return refuse(
        "is behind what it held: its latest changes are lost (a lost -wal file, "
        "an older backup put back)");
  }
  if (mark->audit_seq > 0) {
    auto rec = store.ListAudit(mark->audit_seq - 1, 1);
    if (!rec) return std::unexpected(rec.error());
    if (rec->empty() || rec->front().hash != mark->audit_hash) {
      return refuse(StrCat("has another audit record ", mark->audit_seq,
                           " than the one it held: its past was replaced"));
    }
  }
  return {};
}

Result<std::string> EnsureInstance(SqliteStore& store, const std::string& preferred) {
  auto now = HighWaterOf(store);
  if (!now) return std::unexpected(now.error());
  if (!now->instance.empty()) return now->instance;
  std::string id = preferred;
  if (id.empty()) {
    unsigned char raw[16];
    if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw))
      return core::Internal("no randomness for the instance id");
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned char c : raw) {
      id += kHex[c >> 4];
      id += kHex[c & 15];
    }
  }
  SLUSS_RETURN_IF_ERROR(
      store.PutSetting("instance", json{{"id", id}}.dump(), core::SystemClock().Now()));
  return id;
}

Result<bool> RefreshHighWater(SqliteStore& store, const std::string& path, HighWater* last) {
  auto now = HighWaterOf(store);
  if (!now) return std::unexpected(now.error());
  if (*now == *last) return false;
  SLUSS_RETURN_IF_ERROR(WriteHighWater(path, *now));
  *last = *now;
  return true;
}

// ---- SqliteStore -----------------------------------------------------------

Result<void> SqliteStore::QuickCheck() {
  auto lock = Lock();
  Stmt s(db_, "PRAGMA quick_check");
  if (!s.ok()) return Fail(ErrorCode::kFailedPrecondition, StrCat("quick_check: ", s.error()));
  const int rc = s.Step();
  if (rc != SQLITE_ROW) {
    return Fail(ErrorCode::kFailedPrecondition, StrCat("quick_check: ", sqlite3_errmsg(db_)));
  }
  if (s.Text(0) != "ok")
    return Fail(ErrorCode::kFailedPrecondition, StrCat("quick_check: ", s.Text(0)));
  return {};
}

Result<std::int64_t> SqliteStore::LastJobId() {
  auto lock = Lock();
  // AUTOINCREMENT's own counter: the largest id ever given, deleted or not.
  Stmt& s = Prepare(
      "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0), "
      "coalesce((SELECT max(id) FROM jobs), 0))");
  if (s.Step() != SQLITE_ROW) return std::unexpected(internal::SqliteError(db_, "last job id"));
  return s.Int(0);
}

Result<void> SqliteStore::BackupTo(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    return Fail(ErrorCode::kAlreadyExists, StrCat(path, " exists; back up into a new file"));
  }
  std::string source_path;
  {
    auto lock = Lock();
    const char* f = sqlite3_db_filename(db_, "main");
    source_path = f ? f : "";
  }
  if (source_path.empty()) return core::Internal("the database has no file to back up");
  // A connection of its own: the copy holds one read snapshot (WAL), which
  // blocks neither this store's calls nor slussd's writers.
  sqlite3* src = nullptr;
  sqlite3* dst = nullptr;
  auto close_both = [&] {
    sqlite3_close_v2(src);
    sqlite3_close_v2(dst);
  };
  if (sqlite3_open_v2(source_path.c_str(), &src, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK ||
      sqlite3_open_v2(path.c_str(), &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
          SQLITE_OK) {
    std::string msg = dst ? sqlite3_errmsg(dst) : src ? sqlite3_errmsg(src) : "out of memory";
    close_both();
    return Fail(ErrorCode::kUnavailable, StrCat("cannot back up to ", path, ": ", msg));
  }
  sqlite3_busy_timeout(src, 5000);
  sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
  if (!b) {
    std::string msg = sqlite3_errmsg(dst);
    close_both();
    return Fail(ErrorCode::kUnavailable, StrCat("cannot back up to ", path, ": ", msg));
  }
  // All pages in one step: one snapshot, whatever is written meanwhile.
  int rc = sqlite3_backup_step(b, -1);
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    std::string msg = sqlite3_errstr(rc);
    close_both();
    std::filesystem::remove(path, ec);
    return Fail(ErrorCode::kUnavailable, StrCat("the backup to ", path, " failed: ", msg));
  }
  // The copy as one self-contained file, with no -wal or -shm beside it
  // (slussd puts a restored copy back into WAL mode when it opens it).
  sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr);
  close_both();
  return internal::SyncPath(path, O_RDONLY);
}

}  // namespace sluss::store
