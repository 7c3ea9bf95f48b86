#include "sandbox/cdi.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

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

core::Result<CdiEdits> ParseEdits(const YamlNode* node, std::string_view where) {
  CdiEdits edits;
  if (!node || node->IsNull()) return edits;
  if (!node->IsMap())
    return InvalidArgument(StrCat("CDI spec: ", where, " is not a mapping"));
  if (const YamlNode* env = Find(*node, "env"); env && env->IsSequence()) {
    for (const auto& item : env->items)
      if (item.IsScalar()) edits.env.push_back(item.value);
  }
  if (const YamlNode* nodes = Find(*node, "deviceNodes"); nodes && nodes->IsSequence()) {
    for (const auto& item : nodes->items) {
      CdiDeviceNode dn{Scalar(item, "path"), Scalar(item, "hostPath")};
      if (dn.path.empty() || dn.path[0] != '/')
        return InvalidArgument(StrCat("CDI spec: a device node of ", where,
                                      " has no absolute path (line ",
                                      item.pos.line, ")"));
      if (dn.host_path.empty()) dn.host_path = dn.path;
      edits.device_nodes.push_back(std::move(dn));
    }
  }
  if (const YamlNode* mounts = Find(*node, "mounts"); mounts && mounts->IsSequence()) {
    for (const auto& item : mounts->items) {
      CdiMount m{Scalar(item, "hostPath"), Scalar(item, "containerPath"), {}};
      if (m.host_path.empty() || m.container_path.empty() ||
          m.host_path[0] != '/' || m.container_path[0] != '/')
        return InvalidArgument(StrCat("CDI spec: a mount of ", where,
                                      " lacks an absolute hostPath or containerPath (line ",
                                      item.pos.line, ")"));
      if (const YamlNode* opts = Find(item, "options"); opts && opts->IsSequence())
        for (const auto& o : opts->items)
          if (o.IsScalar()) m.options.push_back(o.value);
      edits.mounts.push_back(std::move(m));
    }
  }
  return edits;
}

bool IsUuid(std::string_view name) {
  return name.starts_with("GPU-") || name.starts_with("MIG-");
}

}  // namespace

std::vector<std::string> CdiSpec::Inventory() const {
  std::vector<std::string> uuids, others;
  for (const auto& [name, _] : devices) {
    if (IsUuid(name)) uuids.push_back(name);
    else if (name != "all") others.push_back(name);
  }
  return uuids.empty() ? others : uuids;
}

core::Result<CdiSpec> ParseCdiSpec(std::string_view text) {
  auto doc = core::ParseYaml(text);
  if (!doc)
    return InvalidArgument(StrCat("CDI spec: line ", doc.error().pos.line, ": ",
                                  doc.error().message));
  if (!doc->IsMap()) return InvalidArgument("CDI spec: not a mapping");
  CdiSpec spec;
  spec.kind = Scalar(*doc, "kind");
  if (spec.kind.empty() || Scalar(*doc, "cdiVersion").empty())
    return InvalidArgument("CDI spec: cdiVersion and kind are required");
  auto common = ParseEdits(Find(*doc, "containerEdits"), "containerEdits");
  if (!common) return std::unexpected(common.error());
  spec.common = std::move(*common);
  const YamlNode* devices = Find(*doc, "devices");
  if (!devices || !devices->IsSequence())
    return InvalidArgument("CDI spec: devices must be a list");
  for (const auto& d : devices->items) {
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
  CdiEdits out = spec.common;
  std::set<std::string> seen;
  for (const auto& dn : out.device_nodes) seen.insert(dn.path);
  for (const auto& name : names) {
    auto it = spec.devices.find(name);
    if (it == spec.devices.end() || name == "all")
      return core::Fail(core::ErrorCode::kNotFound,
                        StrCat("GPU ", core::Quote(name),
                               " is not in this node's CDI spec"));
    for (const auto& dn : it->second.device_nodes)
      if (seen.insert(dn.path).second) out.device_nodes.push_back(dn);
    out.mounts.insert(out.mounts.end(), it->second.mounts.begin(),
                      it->second.mounts.end());
    out.env.insert(out.env.end(), it->second.env.begin(), it->second.env.end());
  }
  return out;
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
