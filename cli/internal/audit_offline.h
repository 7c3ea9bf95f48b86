#pragma once

// `sluss audit verify --db FILE --public-key FILE`: an auditor's check of a
// copy of the state database, with no daemon and no network. The only place
// where the CLI reads a database (read-only, through store/).

#include <ostream>
#include <string>

#include "core/audit.h"

namespace sluss::cli {

int VerifyAuditDatabase(const std::string& db, const std::string& public_key_file, bool as_json,
                        std::ostream& out, std::ostream& err);

// Prints a verification report; the exit code (0 only when it is ok).
int PrintAuditReport(const core::AuditVerifyReport& report, bool as_json, std::ostream& out,
                     std::ostream& err);

}  // namespace sluss::cli
