#include "cli/internal/audit_offline.h"

#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "store/store.h"

namespace sluss::cli {

int VerifyAuditDatabase(const std::string& db, const std::string& public_key_file, bool as_json,
                        std::ostream& out, std::ostream& err) {
  if (public_key_file.empty()) {
    err << "sluss: audit verify --db needs --public-key FILE (the checkpoint key's public half, "
           "ed25519.pub), so that the check does not trust the database\n";
    return kExitUsage;
  }
  std::ifstream in(public_key_file);
  if (!in) {
    err << "sluss: cannot read " << public_key_file << "\n";
    return kExitError;
  }
  std::stringstream key;
  key << in.rdbuf();
  auto store = store::SqliteStore::OpenReadOnly(db);
  if (!store) {
    err << "sluss: " << store.error().message << "\n";
    return kExitError;
  }
  core::AuditVerifier v;
  std::int64_t after = 0;
  for (;;) {
    auto page = (*store)->ListAudit(after, 10000);
    if (!page) {
      err << "sluss: " << page.error().message << "\n";
      return kExitError;
    }
    if (page->empty()) break;
    for (const auto& r : *page) v.Add(r);
    after = page->back().seq;
  }
  auto cps = (*store)->ListAuditCheckpoints();
  if (!cps) {
    err << "sluss: " << cps.error().message << "\n";
    return kExitError;
  }
  return PrintAuditReport(v.Finish(*cps, key.str()), as_json, out, err);
}

}  // namespace sluss::cli
