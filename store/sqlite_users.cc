// SqliteStore: users, project membership and tokens.

#include <sqlite3.h>

#include "core/quota.h"
#include "core/strings.h"
#include "store/internal/sqlite.h"
#include "store/store.h"

#include <nlohmann/json.hpp>

namespace sluss::store {

using core::ErrorCode;
using core::Fail;
using core::Result;
using core::StrCat;
using internal::Stmt;

namespace {

constexpr const char* kTokenSelect =
    "SELECT id, user, role, name, created_at, expires_at, revoked_at, "
    "last_used_at FROM tokens";

core::Token ReadToken(const Stmt& s) {
  core::Token t;
  t.id = s.Int(0);
  t.user = s.Text(1);
  t.role = core::ParseRole(s.Text(2)).value_or(core::Role::kResearcher);
  t.name = s.Text(3);
  t.created_at = core::FromUnixMillis(s.Int(4));
  if (auto v = s.OptInt(5)) t.expires_at = core::FromUnixMillis(*v);
  if (auto v = s.OptInt(6)) t.revoked_at = core::FromUnixMillis(*v);
  if (auto v = s.OptInt(7)) t.last_used_at = core::FromUnixMillis(*v);
  return t;
}

}  // namespace

Result<core::Project> SqliteStore::UpdateQuota(std::string_view project,
                                               const core::Quota& quota) {
  {
    auto lock = Lock();
    Stmt& s = Prepare("UPDATE projects SET quota = ? WHERE name = ?");
    s.Bind(1, core::QuotaToJson(quota).dump()).Bind(2, project);
    if (s.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "update quota"));
    if (sqlite3_changes(db_) == 0) {
      return core::NotFound(StrCat("no project ", core::Quote(project)));
    }
  }
  return GetProject(project);
}

Result<core::Project> SqliteStore::UpdateBranches(std::string_view project,
                                                  const std::vector<std::string>& branches) {
  {
    auto lock = Lock();
    Stmt& s = Prepare("UPDATE projects SET branches = ? WHERE name = ?");
    s.Bind(1, nlohmann::json(branches).dump()).Bind(2, project);
    if (s.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "update branches"));
    if (sqlite3_changes(db_) == 0) {
      return core::NotFound(StrCat("no project ", core::Quote(project)));
    }
  }
  return GetProject(project);
}

Result<void> SqliteStore::EnsureUser(std::string_view user, core::TimePoint now) {
  if (user.empty() || user.size() > 254 ||
      core::FindInvalidUtf8(user) != std::string_view::npos ||
      user.find_first_of(" \t\r\n\"'") != std::string_view::npos) {
    return core::InvalidArgument(
        StrCat("user name ", core::Quote(user),
               " must be 1-254 characters without spaces or quotes"),
        "user");
  }
  auto lock = Lock();
  Stmt& s = Prepare("INSERT INTO users(name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING");
  s.Bind(1, user).Bind(2, core::ToUnixMillis(now));
  if (s.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "create user"));
  return {};
}

Result<void> SqliteStore::AddMember(std::string_view project, std::string_view user) {
  auto lock = Lock();
  Stmt& s = Prepare("INSERT INTO members(project, user) VALUES (?, ?) ON CONFLICT DO NOTHING");
  s.Bind(1, project).Bind(2, user);
  int rc = s.Step();
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
    return core::NotFound(StrCat("no project ", core::Quote(project), " or no user ",
                                 core::Quote(user)));
  }
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "add member"));
  return {};
}

Result<void> SqliteStore::RemoveMember(std::string_view project, std::string_view user) {
  auto lock = Lock();
  Stmt& s = Prepare("DELETE FROM members WHERE project = ? AND user = ?");
  s.Bind(1, project).Bind(2, user);
  if (s.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "remove member"));
  if (sqlite3_changes(db_) == 0) {
    return core::NotFound(StrCat(core::Quote(user), " is not a member of ", core::Quote(project)));
  }
  return {};
}

Result<std::vector<std::string>> SqliteStore::ListMembers(std::string_view project) {
  auto lock = Lock();
  Stmt& s = Prepare("SELECT user FROM members WHERE project = ? ORDER BY user");
  s.Bind(1, project);
  return internal::Collect<std::string>(db_, s, [](const Stmt& st) { return st.Text(0); },
                                        "list members");
}

Result<std::vector<std::string>> SqliteStore::ProjectsOf(std::string_view user) {
  auto lock = Lock();
  Stmt& s = Prepare("SELECT project FROM members WHERE user = ? ORDER BY project");
  s.Bind(1, user);
  return internal::Collect<std::string>(db_, s, [](const Stmt& st) { return st.Text(0); },
                                        "projects of user");
}

Result<core::Token> SqliteStore::CreateToken(const core::Token& t,
                                             std::string_view secret_hash) {
  auto lock = Lock();
  Stmt& s = Prepare(
      "INSERT INTO tokens(user, role, name, secret_hash, created_at, expires_at) "
      "VALUES (?, ?, ?, ?, ?, ?)");
  s.Bind(1, t.user)
      .Bind(2, core::Name(t.role))
      .Bind(3, t.name)
      .Bind(4, secret_hash)
      .Bind(5, core::ToUnixMillis(t.created_at));
  if (t.expires_at) s.Bind(6, core::ToUnixMillis(*t.expires_at)); else s.BindNull(6);
  int rc = s.Step();
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
    return core::NotFound(StrCat("no user ", core::Quote(t.user)));
  }
  if (rc != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "create token"));
  core::Token out = t;
  out.id = sqlite3_last_insert_rowid(db_);
  return out;
}

Result<core::Token> SqliteStore::FindToken(std::string_view secret_hash) {
  auto lock = Lock();
  static const std::string sql = StrCat(kTokenSelect, " WHERE secret_hash = ?");
  Stmt& s = Prepare(sql.c_str());
  s.Bind(1, secret_hash);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return core::NotFound("no such token");
  if (rc != SQLITE_ROW) return std::unexpected(internal::SqliteError(db_, "find token"));
  return ReadToken(s);
}

Result<std::vector<core::Token>> SqliteStore::ListTokens(std::optional<std::string> user) {
  auto lock = Lock();
  static const std::string all = StrCat(kTokenSelect, " ORDER BY id");
  static const std::string by_user = StrCat(kTokenSelect, " WHERE user = ? ORDER BY id");
  Stmt& s = Prepare(user ? by_user.c_str() : all.c_str());
  if (user) s.Bind(1, *user);
  return internal::Collect<core::Token>(db_, s, ReadToken, "list tokens");
}

Result<void> SqliteStore::RevokeToken(std::int64_t id, core::TimePoint now) {
  auto lock = Lock();
  Stmt& s = Prepare(
      "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?");
  s.Bind(1, core::ToUnixMillis(now)).Bind(2, id);
  if (s.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "revoke token"));
  if (sqlite3_changes(db_) == 0) return core::NotFound(StrCat("no token ", id));
  return {};
}

Result<void> SqliteStore::PutSetting(std::string_view key, std::string_view json_value,
                                     core::TimePoint now) {
  auto lock = Lock();
  Stmt& s = Prepare(
      "INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at");
  s.Bind(1, key).Bind(2, json_value).Bind(3, core::ToUnixMillis(now));
  if (s.Step() != SQLITE_DONE) return std::unexpected(internal::SqliteError(db_, "put setting"));
  return {};
}

Result<std::string> SqliteStore::GetSetting(std::string_view key) {
  auto lock = Lock();
  Stmt& s = Prepare("SELECT value FROM settings WHERE key = ?");
  s.Bind(1, key);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return core::NotFound(StrCat("no setting ", core::Quote(key)));
  if (rc != SQLITE_ROW) return std::unexpected(internal::SqliteError(db_, "get setting"));
  return s.Text(0);
}

}  // namespace sluss::store
