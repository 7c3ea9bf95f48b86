#include "sandbox/cdi.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <tuple>

#include "core/strings.h"
#include "core/yaml.h"

namespace sluss::sandbox {
namespace {

using core::InvalidArgument;
using core::StrCat;
using core::YamlNode;

const YamlNode* Find(const YamlNode& map, std::string_view key) {
  if (!map.IsMap()) return nullptr;
  for (const auto& e : map.entries)
    if (e.first.IsScalar() && e.first.value == key) return &e.second;
  return nullptr;
}

std::string Scalar(const YamlNode& map, std::string_view key) {
  const YamlNode* n = Find(map, key);
  return n && n->IsScalar() ? n->value : std::string();
}

// Reads one mapping of the spec: each key must be one of `known`, and the
// error names the key and its line, so that an edit sluss does not apply is
// never silently dropped.
class Reader {
 public:
  Reader(const YamlNode& node, std::string where) : node_(node), where_(std::move(where)) {}

  core::Result<void> OnlyKeys(std::initializer_list<std::string_view> known) const {
    if (!node_.IsMap())
      return InvalidArgument(StrCat("CDI spec: ", where_, " is not a mapping (line ",
                                    node_.pos.line, ")"));
    for (const auto& e : node_.entries) {
      if (std::find(known.begin(), known.end(), e.first.value) == known.end())
        return InvalidArgument(StrCat("CDI spec: ", where_, " has ",
                                      core::Quote(e.first.value), " (line ", e.first.pos.line,
                                      "), which sluss does not know how to apply"));
    }
    return {};
  }

  std::string String(std::string_view key) const { return Scalar(node_, key); }

  core::Result<std::vector<std::string>> Strings(std::string_view key) const {
    std::vector<std::string> out;
    const YamlNode* n = Find(node_, key);
    if (!n || n->IsNull()) return out;
    if (!n->IsSequence()) return Bad(key, *n, "a list of strings");
    for (const auto& item : n->items) {
      if (!item.IsScalar()) return Bad(key, item, "a list of strings");
      out.push_back(item.value);
    }
    return out;
  }

  // An integer in [lo, hi]; absent when the key is. `base` 0 reads 0755 as
  // octal (fileMode in YAML is usually written so; JSON gives decimal).
  core::Result<std::optional<std::int64_t>> Integer(std::string_view key, std::int64_t lo,
                                                    std::int64_t hi, int base = 10) const {
    const YamlNode* n = Find(node_, key);
    if (!n || n->IsNull()) return std::optional<std::int64_t>();
    if (!n->IsScalar()) return Bad(key, *n, "an integer");
    const std::string& v = n->value;
    std::int64_t out = 0;
    const char* first = v.data();
    const char* last = v.data() + v.size();
    int b = base;
    if (base == 0) {
      b = 10;
      if (v.starts_with("0o")) {
        b = 8;
        first += 2;
      } else if (v.size() > 1 && v[0] == '0') {
        b = 8;
      }
    }
    auto [end, ec] = std::from_chars(first, last, out, b);
    if (ec != std::errc() || end != last || first == last || out < lo || out > hi)
      return Bad(key, *n, StrCat("an integer from ", lo, " to ", hi));
    return std::optional<std::int64_t>(out);
  }

  std::unexpected<core::Error> Bad(std::string_view key, const YamlNode& n,
                                   std::string_view expected) const {
    return InvalidArgument(StrCat("CDI spec: ", where_, ": ", key, " must be ", expected,
                                  " (line ", n.pos.line, ")"));
  }

  const YamlNode& node() const { return node_; }
  const std::string& where() const { return where_; }

 private:
  const YamlNode& node_;
  std::string where_;
};

template <typename T>
std::optional<T> Narrow(const std::optional<std::int64_t>& v) {
  if (!v) return std::nullopt;
  return static_cast<T>(*v);
}

#define CDI_TRY(var, expr)                         \
  auto var = (expr);                               \
  if (!var) return std::unexpected(var.error())

core::Result<CdiDeviceNode> ParseDeviceNode(const YamlNode& item, const std::string& where) {
  Reader r(item, StrCat("a device node of ", where));
  if (auto k = r.OnlyKeys({"path", "hostPath", "type", "major", "minor", "fileMode",
                           "permissions", "uid", "gid"});
      !k)
    return std::unexpected(k.error());
  CdiDeviceNode dn;
  dn.path = r.String("path");
  dn.host_path = r.String("hostPath");
  if (dn.path.empty() || dn.path[0] != '/')
    return InvalidArgument(StrCat("CDI spec: a device node of ", where,
                                  " has no absolute path (line ", item.pos.line, ")"));
  if (dn.host_path.empty()) dn.host_path = dn.path;
  if (dn.host_path[0] != '/')
    return InvalidArgument(StrCat("CDI spec: device node ", dn.path, " of ", where,
                                  ": hostPath is not absolute (line ", item.pos.line, ")"));
  dn.type = r.String("type");
  if (!dn.type.empty() && dn.type != "c" && dn.type != "b" && dn.type != "u" && dn.type != "p")
    return InvalidArgument(StrCat("CDI spec: device node ", dn.path, " of ", where,
                                  ": type must be c, b, u or p, not ", core::Quote(dn.type)));
  CDI_TRY(major, r.Integer("major", 0, (1 << 12) - 1));
  CDI_TRY(minor, r.Integer("minor", 0, (1 << 20) - 1));
  CDI_TRY(mode, r.Integer("fileMode", 0, 07777, 0));
  CDI_TRY(uid, r.Integer("uid", 0, 0xfffffffeLL));
  CDI_TRY(gid, r.Integer("gid", 0, 0xfffffffeLL));
  dn.major = *major;
  dn.minor = *minor;
  if (dn.major.has_value() != dn.minor.has_value())
    return InvalidArgument(StrCat("CDI spec: device node ", dn.path, " of ", where,
                                  " gives major or minor without the other"));
  dn.file_mode = Narrow<std::uint32_t>(*mode);
  dn.uid = Narrow<std::uint32_t>(*uid);
  dn.gid = Narrow<std::uint32_t>(*gid);
  dn.permissions = r.String("permissions");
  if (dn.permissions.find_first_not_of("rwm") != std::string::npos)
    return InvalidArgument(StrCat("CDI spec: device node ", dn.path, " of ", where,
                                  ": permissions must be letters of \"rwm\", not ",
                                  core::Quote(dn.permissions)));
  return dn;
}

core::Result<CdiMount> ParseMount(const YamlNode& item, const std::string& where) {
  Reader r(item, StrCat("a mount of ", where));
  if (auto k = r.OnlyKeys({"hostPath", "containerPath", "type", "options"}); !k)
    return std::unexpected(k.error());
  CdiMount m{r.String("hostPath"), r.String("containerPath"), r.String("type"), {}};
  // A mount of another type (tmpfs) names its source freely.
  const bool bind = m.type.empty() || m.type == "bind";
  if (m.host_path.empty() || m.container_path.empty() || m.container_path[0] != '/' ||
      (bind && m.host_path[0] != '/'))
    return InvalidArgument(StrCat("CDI spec: a mount of ", where,
                                  " lacks an absolute hostPath or containerPath (line ",
                                  item.pos.line, ")"));
  CDI_TRY(options, r.Strings("options"));
  m.options = std::move(*options);
  return m;
}

constexpr std::string_view kHookNames[] = {"prestart",        "createRuntime", "createContainer",
                                           "startContainer", "poststart",     "poststop"};

core::Result<CdiHook> ParseHook(const YamlNode& item, const std::string& where) {
  Reader r(item, StrCat("a hook of ", where));
  if (auto k = r.OnlyKeys({"hookName", "path", "args", "env", "timeout"}); !k)
    return std::unexpected(k.error());
  CdiHook h;
  h.hook_name = r.String("hookName");
  h.path = r.String("path");
  if (std::find(std::begin(kHookNames), std::end(kHookNames), h.hook_name) ==
      std::end(kHookNames))
    return InvalidArgument(StrCat("CDI spec: a hook of ", where, " (line ", item.pos.line,
                                  ") has hookName ", core::Quote(h.hook_name),
                                  "; expected one of prestart, createRuntime, createContainer, "
                                  "startContainer, poststart, poststop"));
  if (h.path.empty() || h.path[0] != '/')
    return InvalidArgument(StrCat("CDI spec: a hook of ", where, " (line ", item.pos.line,
                                  ") has no absolute path"));
  CDI_TRY(args, r.Strings("args"));
  CDI_TRY(env, r.Strings("env"));
  CDI_TRY(timeout, r.Integer("timeout", 1, 24 * 3600));
  h.args = std::move(*args);
  h.env = std::move(*env);
  h.timeout = Narrow<int>(*timeout);
  return h;
}

core::Result<CdiEdits> ParseEdits(const YamlNode* node, const std::string& where) {
  CdiEdits edits;
  if (!node || node->IsNull()) return edits;
  Reader r(*node, StrCat("containerEdits of ", where));
  if (auto k = r.OnlyKeys({"env", "deviceNodes", "mounts", "hooks", "additionalGids",
                           "additionalGIDs"});
      !k)
    return std::unexpected(k.error());
  CDI_TRY(env, r.Strings("env"));
  for (const auto& e : *env) {
    if (e.find('=') == std::string::npos || e.front() == '=')
      return InvalidArgument(StrCat("CDI spec: env of ", where, ": ", core::Quote(e),
                                    " is not KEY=VALUE"));
  }
  edits.env = std::move(*env);
  auto each = [&](std::string_view key, auto&& parse) -> core::Result<void> {
    const YamlNode* list = Find(*node, key);
    if (!list || list->IsNull()) return {};
    if (!list->IsSequence())
      return InvalidArgument(StrCat("CDI spec: ", key, " of ", where, " must be a list (line ",
                                    list->pos.line, ")"));
    for (const auto& item : list->items)
      if (auto p = parse(item); !p) return p;
    return {};
  };
  if (auto e = each("deviceNodes", [&](const YamlNode& item) -> core::Result<void> {
        CDI_TRY(dn, ParseDeviceNode(item, where));
        edits.device_nodes.push_back(std::move(*dn));
        return {};
      });
      !e)
    return std::unexpected(e.error());
  if (auto e = each("mounts", [&](const YamlNode& item) -> core::Result<void> {
        CDI_TRY(m, ParseMount(item, where));
        edits.mounts.push_back(std::move(*m));
        return {};
      });
      !e)
    return std::unexpected(e.error());
  if (auto e = each("hooks", [&](const YamlNode& item) -> core::Result<void> {
        CDI_TRY(h, ParseHook(item, where));
        edits.hooks.push_back(std::move(*h));
        return {};
      });
      !e)
    return std::unexpected(e.error());
  for (const char* key : {"additionalGids", "additionalGIDs"}) {
    if (auto e = each(key, [&](const YamlNode& item) -> core::Result<void> {
          std::uint32_t gid = 0;
          auto [end, ec] = std::from_chars(item.value.data(),
                                           item.value.data() + item.value.size(), gid);
          if (!item.IsScalar() || ec != std::errc() ||
              end != item.value.data() + item.value.size())
            return InvalidArgument(StrCat("CDI spec: ", key, " of ", where,
                                          " must be a list of group ids (line ",
                                          item.pos.line, ")"));
          // Root's group would open what the job's uid may not.
          if (gid == 0)
            return InvalidArgument(StrCat("CDI spec: ", key, " of ", where,
                                          " gives group 0 (root), which no job may have"));
          edits.additional_gids.push_back(gid);
          return {};
        });
        !e)
      return std::unexpected(e.error());
  }
  return edits;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto end = std::min(s.find('\n', start), s.size());
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

#undef CDI_TRY

bool IsUuid(std::string_view name) {
  return name.starts_with("GPU-") || name.starts_with("MIG-");
}

// "0" or "0:1": an index name, as nvidia-ctk's default strategy gives.
bool IsIndexName(std::string_view name) {
  if (name.empty()) return false;
  const auto colon = name.find(':');
  auto digits = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (colon == std::string_view::npos) return digits(name);
  return digits(name.substr(0, colon)) && digits(name.substr(colon + 1));
}

// The device node paths that make a device itself (not the shared control
// nodes), as its identity: "/dev/nvidia0", or for MIG the caps nodes.
std::string Identity(const CdiEdits& e) {
  std::vector<std::string> paths;
  for (const auto& dn : e.device_nodes)
    if (!dn.path.starts_with("/dev/dri/")) paths.push_back(dn.path);
  std::sort(paths.begin(), paths.end());
  return core::Join(paths, "\n");
}

}  // namespace

std::vector<std::string> CdiSpec::Inventory() const {
  // One entry per identity: its best name.
  std::map<std::string, std::string> by_identity;
  auto better = [](const std::string& a, const std::string& b) {
    // Index names first, then UUIDs, then anything else.
    auto rank = [](const std::string& n) { return IsIndexName(n) ? 0 : IsUuid(n) ? 1 : 2; };
    return rank(a) != rank(b) ? rank(a) < rank(b) : a < b;
  };
  for (const auto& [name, edits] : devices) {
    if (name == "all") continue;
    std::string id = Identity(edits);
    if (id.empty()) id = "name:" + name;  // no nodes of its own: itself
    auto [it, fresh] = by_identity.emplace(id, name);
    if (!fresh && better(name, it->second)) it->second = name;
  }
  // A device whose nodes are a strict subset of another's is the parent of
  // MIG devices: they are what can be given.
  std::vector<std::string> out;
  for (const auto& [id, name] : by_identity) {
    const auto nodes = Lines(id);
    bool parent = false;
    for (const auto& [other, _] : by_identity) {
      if (other == id || other.starts_with("name:") || id.starts_with("name:")) continue;
      const auto other_nodes = Lines(other);
      if (other_nodes.size() > nodes.size() &&
          std::all_of(nodes.begin(), nodes.end(), [&](const std::string& n) {
            return std::find(other_nodes.begin(), other_nodes.end(), n) != other_nodes.end();
          })) {
        parent = true;
        break;
      }
    }
    if (!parent) out.push_back(name);
  }
  auto key = [](const std::string& n) {
    if (!IsIndexName(n)) return std::tuple<int, long, long, std::string>(1, 0, 0, n);
    const auto colon = n.find(':');
    const long gpu = std::stol(n.substr(0, colon));
    const long mig = colon == std::string::npos ? -1 : std::stol(n.substr(colon + 1));
    return std::tuple<int, long, long, std::string>(0, gpu, mig, n);
  };
  std::sort(out.begin(), out.end(),
            [&](const std::string& a, const std::string& b) { return key(a) < key(b); });
  return out;
}

std::string SharedGpuNode(const CdiSpec& spec, const std::string& a, const std::string& b) {
  const auto ia = spec.devices.find(a), ib = spec.devices.find(b);
  if (ia == spec.devices.end() || ib == spec.devices.end() || a == b) return "";
  const std::string id_a = Identity(ia->second), id_b = Identity(ib->second);
  if (id_a.empty() || id_b.empty()) return "";
  auto na = Lines(id_a), nb = Lines(id_b);
  if (na.size() > nb.size()) std::swap(na, nb);
  // The smaller set inside the larger: one device, or a GPU and its MIG
  // device. MIG devices of one GPU share the GPU's node but differ in
  // their caps nodes, so neither holds the other.
  for (const auto& n : na)
    if (std::find(nb.begin(), nb.end(), n) == nb.end()) return "";
  return na.front();
}

core::Result<CdiSpec> ParseCdiSpec(std::string_view text) {
  auto doc = core::ParseYaml(text);
  if (!doc)
    return InvalidArgument(StrCat("CDI spec: line ", doc.error().pos.line, ": ",
                                  doc.error().message));
  if (!doc->IsMap()) return InvalidArgument("CDI spec: not a mapping");
  Reader top(*doc, "the spec");
  if (auto k = top.OnlyKeys({"cdiVersion", "kind", "annotations", "devices", "containerEdits"});
      !k)
    return std::unexpected(k.error());
  CdiSpec spec;
  spec.kind = Scalar(*doc, "kind");
  if (spec.kind.empty() || Scalar(*doc, "cdiVersion").empty())
    return InvalidArgument("CDI spec: cdiVersion and kind are required");
  auto common = ParseEdits(Find(*doc, "containerEdits"), "the spec");
  if (!common) return std::unexpected(common.error());
  spec.common = std::move(*common);
  const YamlNode* devices = Find(*doc, "devices");
  if (!devices || !devices->IsSequence())
    return InvalidArgument("CDI spec: devices must be a list");
  for (const auto& d : devices->items) {
    Reader dr(d, StrCat("a device (line ", d.pos.line, ")"));
    if (auto k = dr.OnlyKeys({"name", "annotations", "containerEdits"}); !k)
      return std::unexpected(k.error());
    std::string name = Scalar(d, "name");
    if (name.empty())
      return InvalidArgument(StrCat("CDI spec: a device has no name (line ",
                                    d.pos.line, ")"));
    auto edits = ParseEdits(Find(d, "containerEdits"), StrCat("device ", name));
    if (!edits) return std::unexpected(edits.error());
    if (!spec.devices.emplace(name, std::move(*edits)).second)
      return InvalidArgument(StrCat("CDI spec: device ", core::Quote(name),
                                    " is listed twice"));
  }
  // The driver version, from the file name of a driver library mount.
  static const std::regex kDriverLib(R"(lib(?:cuda|nvidia-ml)\.so\.(\d+\.\d+(?:\.\d+)?)$)");
  for (const auto& m : spec.common.mounts) {
    std::smatch match;
    if (std::regex_search(m.host_path, match, kDriverLib)) {
      spec.driver_version = match[1];
      break;
    }
  }
  return spec;
}

core::Result<CdiEdits> ResolveGpus(const CdiSpec& spec,
                                   const std::vector<std::string>& names) {
  CdiEdits out;
  std::set<std::string> nodes, mounts, hooks;
  std::set<std::uint32_t> gids;
  auto add = [&](const CdiEdits& e) {
    for (const auto& dn : e.device_nodes)
      if (nodes.insert(dn.path).second) out.device_nodes.push_back(dn);
    for (const auto& m : e.mounts)
      if (mounts.insert(m.container_path).second) out.mounts.push_back(m);
    for (const auto& h : e.hooks)
      if (hooks.insert(StrCat(h.hook_name, "\n", h.path, "\n", core::Join(h.args, "\n"))).second)
        out.hooks.push_back(h);
    for (auto g : e.additional_gids)
      if (gids.insert(g).second) out.additional_gids.push_back(g);
    out.env.insert(out.env.end(), e.env.begin(), e.env.end());
  };
  add(spec.common);
  std::set<std::string> given;
  for (const auto& name : names) {
    auto it = spec.devices.find(name);
    if (it == spec.devices.end() || name == "all")
      return core::Fail(core::ErrorCode::kNotFound,
                        StrCat("GPU ", core::Quote(name),
                               " is not in this node's CDI spec"));
    if (!given.insert(name).second)
      return InvalidArgument(StrCat("GPU ", core::Quote(name), " is given twice"));
    add(it->second);
  }
  return out;
}

namespace {

bool Within(const std::string& path, const std::string& dir) {
  return path == dir || dir == "/" || path.starts_with(dir + "/");
}

std::string Normal(const std::string& path) {
  std::string n = std::filesystem::path(path).lexically_normal().string();
  while (n.size() > 1 && n.back() == '/') n.pop_back();
  return n;
}

core::Result<void> CheckEdits(const CdiEdits& e, const std::string& where,
                              const std::vector<std::string>& private_dirs) {
  static const std::vector<std::string> kHostDirs = {"/",     "/etc", "/root", "/home",
                                                     "/proc", "/sys", "/dev",  "/boot"};
  static const std::vector<std::string> kPrivateHostDirs = {"/root", "/home"};
  for (const auto& m : e.mounts) {
    // The runtime binds whatever has a bind option, whatever its type; an
    // overlay or devtmpfs mount opens the host as a bind would. Bind mounts
    // are all a GPU vendor's spec needs, and a tmpfs harms no one.
    const bool binds = std::any_of(m.options.begin(), m.options.end(), [](const std::string& o) {
      return o == "bind" || o == "rbind";
    });
    if (m.type == "tmpfs" && !binds) continue;
    if (!m.type.empty() && m.type != "bind")
      return InvalidArgument(StrCat(where, ": the ", m.type, " mount at ", m.container_path,
                                    " is refused: only bind mounts (and tmpfs) are applied, "
                                    "which is all a GPU needs"));
    const std::string host = Normal(m.host_path);
    auto refuse = [&](const std::string& dir, std::string_view why) {
      return InvalidArgument(StrCat(where, ": the mount of host ", m.host_path, " at ",
                                    m.container_path, " is refused: ", why, " ", dir,
                                    ", which no GPU needs"));
    };
    for (const auto& dir : kHostDirs)
      if (Within(dir, host))
        return refuse(dir, host == dir ? "it is" : "it holds");
    for (const auto& raw : private_dirs) {
      const std::string dir = Normal(raw);
      if (Within(dir, host)) return refuse(dir, host == dir ? "it is" : "it holds");
      if (Within(host, dir)) return refuse(dir, "it is inside");
    }
    for (const auto& dir : kPrivateHostDirs)
      if (Within(host, dir)) return refuse(dir, "it is inside");
  }
  for (const auto& dn : e.device_nodes) {
    if (dn.type == "b")
      return InvalidArgument(StrCat(where, ": device node ", dn.path,
                                    " is refused: it is a block device (type b), and GPU "
                                    "nodes are character devices"));
  }
  for (const auto& h : e.hooks) {
    if (h.hook_name != "createContainer" && h.hook_name != "startContainer")
      return InvalidArgument(StrCat(
          where, ": the ", h.hook_name, " hook ", h.path,
          " is refused: it would run in the host's namespaces; only createContainer and "
          "startContainer hooks are applied (nvidia-ctk's are createContainer)"));
  }
  return {};
}

}  // namespace

core::Result<void> CheckCdiSafety(const CdiSpec& spec,
                                  const std::vector<std::string>& private_dirs) {
  if (auto r = CheckEdits(spec.common, "the spec's containerEdits", private_dirs); !r)
    return r;
  for (const auto& [name, edits] : spec.devices)
    if (auto r = CheckEdits(edits, StrCat("device ", core::Quote(name)), private_dirs); !r)
      return r;
  return {};
}

std::map<int, std::string> GpuUuidsByMinor(const std::string& dir) {
  std::map<int, std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::ifstream in(it->path() / "information");
    std::string line, uuid;
    int minor = -1;
    auto value = [](const std::string& l) {
      std::string v = l.substr(l.find(':') + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      v.erase(v.find_last_not_of(" \t\r") + 1);
      return v;
    };
    while (std::getline(in, line)) {
      if (line.rfind("GPU UUID:", 0) == 0) uuid = value(line);
      if (line.rfind("Device Minor:", 0) == 0) {
        try {
          minor = std::stoi(value(line));
        } catch (const std::exception&) {
          minor = -1;
        }
      }
    }
    if (minor >= 0 && !uuid.empty()) out[minor] = uuid;
  }
  return out;
}

}  // namespace sluss::sandbox
