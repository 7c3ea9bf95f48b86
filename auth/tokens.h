#pragma once

// Issuing API tokens: a random 256-bit secret ("slu_" + 64 hex digits),
// shown once; the store keeps only its SHA-256. The API issues tokens for
// people, slussd's `token create` the first admin's, and the git intake each
// hosted repository's hook token, all here, so that none of them calls into
// another's layer.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/error.h"
#include "core/store.h"
#include "core/time.h"
#include "core/types.h"

namespace sluss::auth {

inline constexpr std::string_view kTokenPrefix = "slu_";

// Makes a new token for `user` (created if missing) with `role`, valid for
// `ttl` (none: until revoked). Returns the stored token and the secret.
core::Result<std::pair<core::Token, std::string>> IssueToken(
    core::Store& store, core::TimePoint now, std::string_view user, core::Role role,
    std::string_view name, std::optional<std::chrono::seconds> ttl);

// 256 random bits as 64 hex digits (a key that is not a token).
core::Result<std::string> RandomSecret();

}  // namespace sluss::auth
