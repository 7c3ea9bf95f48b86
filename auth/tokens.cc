#include "auth/tokens.h"

#include <openssl/rand.h>

#include "core/digest.h"
#include "core/strings.h"

namespace sluss::auth {

core::Result<std::pair<core::Token, std::string>> IssueToken(
    core::Store& store, core::TimePoint now, std::string_view user, core::Role role,
    std::string_view name, std::optional<std::chrono::seconds> ttl) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return core::Internal("no randomness for a token");
  std::string secret = core::StrCat(kTokenPrefix, core::ToHex(raw, sizeof raw));
  if (auto r = store.EnsureUser(user, now); !r) return std::unexpected(r.error());
  core::Token t;
  t.user = std::string(user);
  t.role = role;
  t.name = std::string(name);
  t.created_at = now;
  if (ttl) t.expires_at = now + std::chrono::duration_cast<std::chrono::milliseconds>(*ttl);
  auto stored = store.CreateToken(t, core::Sha256Hex(secret));
  if (!stored) return std::unexpected(stored.error());
  return std::pair{*stored, secret};
}

core::Result<std::string> RandomSecret() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return core::Internal("no randomness for a key");
  return core::ToHex(raw, sizeof raw);
}

}  // namespace sluss::auth
