#pragma once

// The JSON form of a project's quota, as admins write it:
//   {"max": {"gpus": 8, "cpus": 128, "memory": "1T"},
//    "per_user": {"max_running_jobs": 5, "max_gpus": 4},
//    "per_job": {"max_gpus": 4, "max_time": "24h", "max_memory": "256G",
//                "max_disk": "100G"},
//    "max_running_jobs": 20, "max_queued_jobs": 500,
//    "budget": {"gpu_hours": 500, "period": "month"},
//    "fairshare_weight": 1.0}
// Every key is optional; absent means unlimited (weight: 1), except
// per_job.max_disk, whose absence means the node's output limit.

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"
#include "core/types.h"

namespace sluss::core {

nlohmann::json QuotaToJson(const Quota& quota);
// kInvalidArgument naming the field ("per_job.max_time") on any wrong key,
// type or value.
Result<Quota> QuotaFromJson(const nlohmann::json& json);

}  // namespace sluss::core
