// The canonical JSON form of an action (stored with jobs, hashed into cache
// keys).

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/pipeline.h"

namespace sluss::core {

nlohmann::json ToJson(const Action& a) {
  using nlohmann::json;
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  json resources = json::object();
  const ResourceRequest& r = a.resources;
  if (r.gpus) resources["gpus"] = *r.gpus;
  if (r.milli_cpus) resources["milli_cpus"] = *r.milli_cpus;
  if (r.memory_bytes) resources["memory_bytes"] = *r.memory_bytes;
  if (r.time_limit) resources["time_limit_s"] = r.time_limit->count();
  if (r.disk_bytes) resources["disk_bytes"] = *r.disk_bytes;
  json datasets = json::array();
  std::vector<DatasetRef> refs = a.datasets;
  std::sort(refs.begin(), refs.end(), [](const auto& x, const auto& y) {
    return x.name < y.name;
  });
  for (const auto& d : refs) {
    datasets.push_back({{"name", d.name}, {"version", d.version}});
  }
  std::vector<std::string> on;
  for (StatusCode c : a.retries.on) on.emplace_back(Name(c));
  json env = json::object();
  for (const auto& [k, v] : a.env) env[k] = v;
  return json{
      {"name", a.name},
      {"image", a.image},
      {"argv", a.argv},
      {"needs", sorted(a.needs)},
      {"datasets", datasets},
      {"resources", resources},
      {"outputs",
       {{"sensitive", sorted(a.outputs.sensitive)},
        {"releasable", sorted(a.outputs.releasable)}}},
      {"code", sorted(a.code)},
      {"retries", {{"max", a.retries.max}, {"on", sorted(on)}}},
      {"env", env},
  };
}

}  // namespace sluss::core
