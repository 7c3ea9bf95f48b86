#include "core/quota.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/quantity.h"
#include "core/strings.h"

namespace sluss::core {
namespace {

using nlohmann::json;

// Reads one object, refusing keys not in `allowed`.
Result<void> CheckKeys(const json& j, std::string_view path,
                       std::vector<std::string_view> allowed) {
  if (!j.is_object()) {
    return InvalidArgument("expected an object", std::string(path));
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      std::string hint = ClosestMatch(it.key(), allowed);
      return InvalidArgument(
          StrCat("unknown key ", Quote(it.key()),
                 hint.empty() ? std::string() : StrCat(" (did you mean '", hint, "'?)")),
          path.empty() ? it.key() : StrCat(path, ".", it.key()));
    }
  }
  return {};
}

std::string Field(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : StrCat(path, ".", key);
}

Result<std::optional<int>> Count(const json& j, std::string_view path,
                                 std::string_view key) {
  if (!j.contains(key)) return std::optional<int>();
  const json& v = j.at(key);
  if (v.is_null()) return std::optional<int>();
  if (!v.is_number_integer() || v.get<long long>() < 0 ||
      v.get<long long>() > 1'000'000'000) {
    return InvalidArgument("expected a whole number from 0, or null for no limit",
                           Field(path, key));
  }
  return std::optional<int>(v.get<int>());
}

// A quantity as a string ("1T") or, for cpus, a number.
template <typename T>
Result<std::optional<T>> Quantity(const json& j, std::string_view path,
                                  std::string_view key,
                                  Result<T> (*parse)(std::string_view)) {
  if (!j.contains(key)) return std::optional<T>();
  const json& v = j.at(key);
  if (v.is_null()) return std::optional<T>();
  std::string text;
  if (v.is_string()) {
    text = v.get<std::string>();
  } else if (v.is_number()) {
    text = v.dump();
  } else {
    return InvalidArgument("expected a string such as \"16G\" or \"24h\"",
                           Field(path, key));
  }
  auto r = parse(text);
  if (!r) return InvalidArgument(r.error().message, Field(path, key));
  return std::optional<T>(*r);
}

}  // namespace

json QuotaToJson(const Quota& q) {
  json out = json::object();
  json max = json::object();
  if (q.max.gpus) max["gpus"] = *q.max.gpus;
  if (q.max.milli_cpus) {
    if (*q.max.milli_cpus % 1000 == 0) {
      max["cpus"] = *q.max.milli_cpus / 1000;
    } else {
      max["cpus"] = FormatMilliCpus(*q.max.milli_cpus);
    }
  }
  if (q.max.memory_bytes) max["memory"] = FormatBytes(*q.max.memory_bytes);
  if (q.max.disk_bytes) max["disk"] = FormatBytes(*q.max.disk_bytes);
  out["max"] = max;
  json per_user = json::object();
  if (q.per_user.max_running_jobs)
    per_user["max_running_jobs"] = *q.per_user.max_running_jobs;
  if (q.per_user.max_gpus) per_user["max_gpus"] = *q.per_user.max_gpus;
  out["per_user"] = per_user;
  json per_job = json::object();
  if (q.per_job.max_gpus) per_job["max_gpus"] = *q.per_job.max_gpus;
  if (q.per_job.max_time) per_job["max_time"] = FormatDuration(*q.per_job.max_time);
  if (q.per_job.max_memory_bytes)
    per_job["max_memory"] = FormatBytes(*q.per_job.max_memory_bytes);
  if (q.per_job.max_disk_bytes) per_job["max_disk"] = FormatBytes(*q.per_job.max_disk_bytes);
  out["per_job"] = per_job;
  out["max_running_jobs"] = q.max_running_jobs ? json(*q.max_running_jobs) : json();
  out["max_queued_jobs"] = q.max_queued_jobs ? json(*q.max_queued_jobs) : json();
  if (q.budget) {
    out["budget"] = {{"gpu_hours", q.budget->gpu_hours},
                     {"period", q.budget->period}};
  } else {
    out["budget"] = nullptr;
  }
  out["fairshare_weight"] = q.fairshare_weight;
  return out;
}

Result<Quota> QuotaFromJson(const json& j) {
  Quota q;
  if (auto r = CheckKeys(j, "", {"max", "per_user", "per_job", "max_running_jobs",
                                 "max_queued_jobs", "budget", "fairshare_weight"});
      !r) {
    return std::unexpected(r.error());
  }
#define SLUSS_TRY(var, expr)                          \
  auto var = (expr);                                  \
  if (!var) return std::unexpected(var.error())
  if (j.contains("max") && !j.at("max").is_null()) {
    const json& m = j.at("max");
    if (auto r = CheckKeys(m, "max", {"gpus", "cpus", "memory", "disk"}); !r)
      return std::unexpected(r.error());
    SLUSS_TRY(gpus, Count(m, "max", "gpus"));
    SLUSS_TRY(cpus, Quantity<std::int64_t>(m, "max", "cpus", ParseMilliCpus));
    SLUSS_TRY(mem, Quantity<std::int64_t>(m, "max", "memory", ParseBytes));
    SLUSS_TRY(disk, Quantity<std::int64_t>(m, "max", "disk", ParseBytes));
    q.max.gpus = *gpus;
    q.max.milli_cpus = *cpus;
    q.max.memory_bytes = *mem;
    q.max.disk_bytes = *disk;
  }
  if (j.contains("per_user") && !j.at("per_user").is_null()) {
    const json& u = j.at("per_user");
    if (auto r = CheckKeys(u, "per_user", {"max_running_jobs", "max_gpus"}); !r)
      return std::unexpected(r.error());
    SLUSS_TRY(running, Count(u, "per_user", "max_running_jobs"));
    SLUSS_TRY(gpus, Count(u, "per_user", "max_gpus"));
    q.per_user.max_running_jobs = *running;
    q.per_user.max_gpus = *gpus;
  }
  if (j.contains("per_job") && !j.at("per_job").is_null()) {
    const json& p = j.at("per_job");
    if (auto r = CheckKeys(p, "per_job", {"max_gpus", "max_time", "max_memory", "max_disk"}); !r)
      return std::unexpected(r.error());
    SLUSS_TRY(gpus, Count(p, "per_job", "max_gpus"));
    SLUSS_TRY(time, Quantity<std::chrono::seconds>(p, "per_job", "max_time",
                                                   ParseDuration));
    SLUSS_TRY(mem, Quantity<std::int64_t>(p, "per_job", "max_memory", ParseBytes));
    SLUSS_TRY(disk, Quantity<std::int64_t>(p, "per_job", "max_disk", ParseBytes));
    q.per_job.max_gpus = *gpus;
    q.per_job.max_time = *time;
    q.per_job.max_memory_bytes = *mem;
    q.per_job.max_disk_bytes = *disk;
  }
  SLUSS_TRY(running, Count(j, "", "max_running_jobs"));
  SLUSS_TRY(queued, Count(j, "", "max_queued_jobs"));
  q.max_running_jobs = *running;
  q.max_queued_jobs = *queued;
#undef SLUSS_TRY
  if (j.contains("budget") && !j.at("budget").is_null()) {
    const json& b = j.at("budget");
    if (auto r = CheckKeys(b, "budget", {"gpu_hours", "period"}); !r)
      return std::unexpected(r.error());
    Quota::Budget budget;
    if (!b.contains("gpu_hours") || !b.at("gpu_hours").is_number() ||
        b.at("gpu_hours").get<double>() < 0) {
      return InvalidArgument("expected a number of GPU-hours from 0",
                             "budget.gpu_hours");
    }
    budget.gpu_hours = b.at("gpu_hours").get<double>();
    if (b.contains("period")) {
      const json& p = b.at("period");
      if (!p.is_string() || (p != "day" && p != "week" && p != "month")) {
        return InvalidArgument("expected \"day\", \"week\" or \"month\"",
                               "budget.period");
      }
      budget.period = p.get<std::string>();
    }
    q.budget = budget;
  }
  if (j.contains("fairshare_weight")) {
    const json& w = j.at("fairshare_weight");
    if (!w.is_number() || w.get<double>() <= 0 || w.get<double>() > 1e6) {
      return InvalidArgument("expected a number above 0", "fairshare_weight");
    }
    q.fairshare_weight = w.get<double>();
  }
  return q;
}

}  // namespace sluss::core
