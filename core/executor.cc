#include "core/executor.h"

#include "core/digest.h"
#include "core/strings.h"

namespace sluss::core {

std::string AttemptKey(const Job& job, int attempt) {
  return Sha256Hex(StrCat("sluss-attempt-v1\n", job.id.value, "\n", job.run_id.value, "\n",
                          job.action, "\n", ToUnixMillis(job.created_at), "\n", attempt))
      .substr(0, 16);
}

}  // namespace sluss::core
