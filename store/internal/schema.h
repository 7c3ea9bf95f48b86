#pragma once

#include <vector>

namespace sluss::store::internal {

// Schema migrations, in order. Migration i (0-based) takes the database from
// user_version i to i + 1. Append only: a released migration never changes.
const std::vector<const char*>& Migrations();

// "SLUS" as a big-endian integer, in PRAGMA application_id, so that sluss
// never mistakes another program's SQLite file for its own.
inline constexpr int kApplicationId = 0x534c5553;

}  // namespace sluss::store::internal
