// `pools:` and the one-pool shorthand; the resource keys `node:` shares.

#include <algorithm>
#include <set>

#include "core/quantity.h"
#include "core/strings.h"
#include "core/types.h"
#include "daemon/internal/config_parts.h"

namespace sluss::daemon::internal {

using core::Quote;
using core::StrCat;
using core::YamlChecker;
using core::YamlNode;

namespace {

constexpr std::string_view kPoolKeys[] = {"name",      "executor", "cpus", "memory", "gpus",
                                          "partition", "account",  "qos",  "projects"};

// Pool names are in URLs (/v1/nodes/NAME/drain), job rows and settings keys.
bool PoolName(const std::string& s) {
  if (s.empty() || s.size() > 63 || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
  });
}

}  // namespace

void ReadCpus(YamlChecker& c, const YamlNode& n, const std::string& path, std::int64_t* out) {
  if (!n.IsScalar()) {
    c.Report(n.pos, path, "expected a number of CPUs");
  } else if (auto v = core::ParseMilliCpus(n.value); !v) {
    c.Report(n.pos, path, v.error().message);
  } else {
    *out = *v;
  }
}

void ReadMemory(YamlChecker& c, const YamlNode& n, const std::string& path, std::int64_t* out) {
  if (!n.IsScalar()) {
    c.Report(n.pos, path, "expected a size such as 64G");
  } else if (auto v = core::ParseBytes(n.value); !v) {
    c.Report(n.pos, path, v.error().message);
  } else {
    *out = *v;
  }
}

void ReadGpus(YamlChecker& c, const YamlNode& n, const std::string& path,
              std::optional<std::vector<std::string>>* out) {
  if (!n.IsSequence()) {
    c.Report(n.pos, path,
             StrCat("expected a list of GPU names as the CDI spec gives them, such as "
                    "[0, 1] or [GPU-4cf8db2d-...], got ",
                    n.KindName()));
    return;
  }
  out->emplace();
  for (const YamlNode& g : n.items) {
    auto s = c.String(g, path);
    if (!s) continue;
    if (s->empty() || s->size() > 64 ||
        s->find_first_not_of(
            "0123456789abcdefABCDEFGHIJKLMNOPQRSTUVWXYZghijklmnopqrstuvwxyz:-") !=
            std::string::npos) {
      c.Report(g.pos, path,
               StrCat(Quote(*s), " is not a GPU name (an index such as 0, a MIG "
                                 "device such as 0:1, or GPU-<uuid>)"));
    } else if (std::find((*out)->begin(), (*out)->end(), *s) != (*out)->end()) {
      c.Report(g.pos, path, StrCat("GPU ", Quote(*s), " is listed twice"));
    } else if (*s == "all") {
      c.Report(g.pos, path, StrCat("name the GPUs, or leave ", path, " out for all of them"));
    } else {
      (*out)->push_back(*s);
    }
  }
}

void ReadSlurmName(YamlChecker& c, const YamlNode& n, const std::string& path, std::string* out) {
  auto v = c.String(n, path);
  if (!v) return;
  if (v->empty() || v->find_first_of(" \t\n,=") != std::string::npos ||
      v->find('\0') != std::string::npos)
    c.Report(n.pos, path, StrCat(Quote(*v), " is not a Slurm name"));
  else
    *out = *v;
}

void ReadPools(YamlChecker& c, const YamlNode& pools, Config* cfg) {
  cfg->pools_shorthand = false;
  if (!pools.IsSequence()) {
    c.Report(pools.pos, "pools",
             StrCat("expected a list of pools ({name, executor, ...}), got ", pools.KindName()));
    return;
  }
  if (pools.items.empty()) {
    c.Report(pools.pos, "pools", "lists no pool: jobs could run nowhere");
    return;
  }
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < pools.items.size(); ++i) {
    const YamlNode& item = pools.items[i];
    const std::string path = StrCat("pools[", i, "]");
    auto f = c.Fields(item, path, kPoolKeys);
    if (!item.IsMap()) continue;  // reported by Fields
    PoolConfig p;
    if (auto n = f.find("name"); n == f.end()) {
      c.Report(item.pos, path, "missing 'name'");
    } else if (auto s = c.String(*n->second, StrCat(path, ".name"))) {
      if (!PoolName(*s)) {
        c.Report(n->second->pos, StrCat(path, ".name"),
                 StrCat(Quote(*s), " is not a pool name (letters, digits, '-', '_', '.'; "
                                   "at most 63, starting with a letter or digit)"));
      } else if (auto [it, fresh] = seen.emplace(*s, i); !fresh) {
        c.Report(n->second->pos, StrCat(path, ".name"),
                 StrCat("pool ", Quote(*s), " is already pools[", it->second,
                        "]: each pool needs its own name"));
      } else {
        p.name = *s;
      }
    }
    if (auto n = f.find("executor"); n == f.end()) {
      c.Report(item.pos, path, "missing 'executor' (local or slurm)");
    } else if (auto s = c.String(*n->second, StrCat(path, ".executor"))) {
      if (*s != "local" && *s != "slurm") {
        std::string hint = core::ClosestMatch(*s, {"local", "slurm"});
        c.Report(n->second->pos, StrCat(path, ".executor"),
                 StrCat(Quote(*s), " is not one of local, slurm",
                        hint.empty() ? std::string() : StrCat(" (did you mean '", hint, "'?)")));
      }
      p.executor = *s;
    }
    if (auto n = f.find("cpus"); n != f.end()) ReadCpus(c, *n->second, StrCat(path, ".cpus"), &p.milli_cpus);
    if (auto n = f.find("memory"); n != f.end())
      ReadMemory(c, *n->second, StrCat(path, ".memory"), &p.memory_bytes);
    if (auto n = f.find("gpus"); n != f.end()) {
      ReadGpus(c, *n->second, StrCat(path, ".gpus"), &p.gpus);
    }
    for (auto [key, out] : {std::pair{"partition", &p.partition}, std::pair{"account", &p.account},
                            std::pair{"qos", &p.qos}}) {
      auto n = f.find(key);
      if (n == f.end()) continue;
      if (p.executor != "slurm")
        c.Report(n->second->pos, StrCat(path, ".", key),
                 StrCat("is for pools with executor: slurm, this one's is ", p.executor));
      else
        ReadSlurmName(c, *n->second, StrCat(path, ".", key), out);
    }
    if (auto n = f.find("projects"); n != f.end()) {
      if (auto list = c.StringList(*n->second, StrCat(path, ".projects"), "project names")) {
        if (list->empty())
          c.Report(n->second->pos, StrCat(path, ".projects"),
                   "lists no project: leave it out for every project, or remove the pool");
        for (const auto& [name, pos] : *list) {
          if (auto ok = core::CheckProjectName(name); !ok)
            c.Report(pos, StrCat(path, ".projects"), ok.error().message);
          else if (std::find(p.projects.begin(), p.projects.end(), name) != p.projects.end())
            c.Report(pos, StrCat(path, ".projects"), StrCat("project ", Quote(name), " is listed twice"));
          else
            p.projects.push_back(name);
        }
      }
    }
    // Local pools share this host: a GPU in two would be given out twice.
    if (p.executor == "local" && p.gpus)
      for (const auto& g : *p.gpus)
        for (const auto& other : cfg->pools)
          if (other.executor == "local" && other.gpus &&
              std::find(other.gpus->begin(), other.gpus->end(), g) != other.gpus->end())
            c.Report(f.at("gpus")->pos, StrCat(path, ".gpus"),
                     StrCat("GPU ", Quote(g), " is already in pool ", Quote(other.name),
                            ": a GPU belongs to one local pool"));
    cfg->pools.push_back(std::move(p));
  }
}

void SettlePools(YamlChecker& c, const std::map<std::string, const YamlNode*>& top,
                 const std::map<std::string, const YamlNode*>& node,
                 const std::map<std::string, const YamlNode*>& slurm, Config* cfg) {
  if (top.count("pools")) {
    // Two ways of saying where jobs run would disagree sooner or later.
    if (auto it = top.find("executor"); it != top.end())
      c.Report(it->second->pos, "executor",
               "with pools:, each pool names its executor: remove executor: (or pools:, for one pool)");
    for (const char* key : {"name", "cpus", "memory", "gpus"})
      if (auto it = node.find(key); it != node.end())
        c.Report(it->second->pos, StrCat("node.", key),
                 StrCat("with pools:, set ", key, " on each pool (node: keeps only disk_reserve)"));
    for (const char* key : {"partition", "account", "qos"})
      if (auto it = slurm.find(key); it != slurm.end())
        c.Report(it->second->pos, StrCat("slurm.", key),
                 StrCat("with pools:, set ", key, " on each slurm pool"));
    if (auto it = top.find("slurm"); it != top.end() &&
        std::none_of(cfg->pools.begin(), cfg->pools.end(),
                     [](const PoolConfig& p) { return p.executor == "slurm"; }))
      c.Report(it->second->pos, "slurm",
               "is set, but no pool has executor: slurm: add one, or remove slurm:");
    return;
  }
  PoolConfig p;
  p.name = cfg->node_name;
  p.executor = cfg->executor;
  p.milli_cpus = cfg->node_milli_cpus;
  p.memory_bytes = cfg->node_memory_bytes;
  p.gpus = cfg->node_gpus;
  p.partition = cfg->slurm.partition;
  p.account = cfg->slurm.account;
  p.qos = cfg->slurm.qos;
  cfg->pools = {std::move(p)};
  cfg->pools_shorthand = true;
}

}  // namespace sluss::daemon::internal
