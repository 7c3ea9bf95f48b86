// The canonical JSON form of an action (hashed into cache keys): the job
// spec's input part, before admission.

#include <nlohmann/json.hpp>

#include "core/job_spec.h"
#include "core/pipeline.h"

namespace sluss::core {

nlohmann::json ToJson(const Action& a) { return CacheKeyJson(SpecOf(a)); }

}  // namespace sluss::core
