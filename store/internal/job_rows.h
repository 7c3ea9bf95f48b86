#pragma once

// A job's row as the store reads it, shared by the files of SqliteStore.

#include "core/types.h"
#include "store/internal/sqlite.h"

namespace sluss::store::internal {

// The columns ReadJob reads, in its order (the job's needs are not among them).
extern const char* const kJobColumns;
core::Job ReadJob(const Stmt& s);

}  // namespace sluss::store::internal
