#pragma once

// Pieces of ParseConfig shared by `node:` and each of `pools:` (config.cc,
// config_pools.cc). Each reads one key, reports what is wrong under `path`
// and leaves `out` as it was then.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/yaml.h"
#include "daemon/config.h"

namespace sluss::daemon::internal {

void ReadCpus(core::YamlChecker& c, const core::YamlNode& n, const std::string& path,
              std::int64_t* out);
void ReadMemory(core::YamlChecker& c, const core::YamlNode& n, const std::string& path,
                std::int64_t* out);
void ReadGpus(core::YamlChecker& c, const core::YamlNode& n, const std::string& path,
              std::optional<std::vector<std::string>>* out);
// One Slurm name (partition, account, qos): it becomes one sbatch argument.
void ReadSlurmName(core::YamlChecker& c, const core::YamlNode& n, const std::string& path,
                   std::string* out);

// `pools:` into cfg->pools.
void ReadPools(core::YamlChecker& c, const core::YamlNode& pools, Config* cfg);

// After every key is read: with `pools:`, refuses the one-pool keys
// (`executor`, node's capacity, slurm's partition/account/qos) that would
// say something else; without it, makes the one pool they describe.
// `top` and `node` are the keys present at the top and under `node:`.
void SettlePools(core::YamlChecker& c, const std::map<std::string, const core::YamlNode*>& top,
                 const std::map<std::string, const core::YamlNode*>& node,
                 const std::map<std::string, const core::YamlNode*>& slurm, Config* cfg);

}  // namespace sluss::daemon::internal
