#include "cli/check.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/table.h"
#include "core/quantity.h"
#include "core/strings.h"

namespace sluss::cli {

using core::StrCat;

namespace {

std::string Resources(const core::ResourceRequest& r) {
  std::vector<std::string> parts;
  if (r.gpus && *r.gpus > 0) parts.push_back(StrCat(*r.gpus, *r.gpus == 1 ? " gpu" : " gpus"));
  if (r.milli_cpus) parts.push_back(StrCat(core::FormatMilliCpus(*r.milli_cpus), " cpu"));
  if (r.memory_bytes) parts.push_back(core::FormatBytes(*r.memory_bytes));
  if (r.time_limit) parts.push_back(core::FormatDuration(*r.time_limit));
  if (r.disk_bytes) parts.push_back(StrCat(core::FormatBytes(*r.disk_bytes), " disk"));
  return parts.empty() ? "defaults" : core::Join(parts, ", ");
}

std::string ListOrDash(const std::vector<std::string>& v) {
  return v.empty() ? "-" : core::Join(v, ", ");
}

}  // namespace

void PrintPlan(const core::Pipeline& p, std::ostream& out) {
  Table t({"#", "ACTION", "IMAGE", "NEEDS", "DATASETS", "RESOURCES", "OUTPUTS"});
  int n = 0;
  for (std::size_t i : p.order) {
    const core::Action& a = p.actions[i];
    std::vector<std::string> datasets;
    for (const auto& d : a.datasets) datasets.push_back(d.ToString());
    std::vector<std::string> outputs;
    if (!a.outputs.sensitive.empty()) {
      outputs.push_back(StrCat(a.outputs.sensitive.size(), " sensitive"));
    }
    if (!a.outputs.releasable.empty()) {
      outputs.push_back(StrCat(a.outputs.releasable.size(), " releasable"));
    }
    t.AddRow({std::to_string(++n), a.name, a.image, ListOrDash(a.needs),
              ListOrDash(datasets), Resources(a.resources), ListOrDash(outputs)});
  }
  t.Print(out);
  out << "\n";
  for (std::size_t i : p.order) {
    const core::Action& a = p.actions[i];
    out << "  " << a.name << ": " << a.run << "\n";
  }
}

int RunCheck(const CheckOptions& o, std::ostream& out, std::ostream& err) {
  std::ifstream in(o.file, std::ios::binary);
  if (!in) {
    err << "sluss check: cannot read " << o.file
        << (o.file == "sluss.yaml" ? " (run it in the repository root, or name the file)" : "")
        << "\n";
    return 1;
  }
  // Read at most one byte past the limit: the parser reports the size.
  std::string text(core::kMaxPipelineBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  auto p = core::ParsePipeline(text, o.file);
  if (o.json) {
    nlohmann::json j;
    j["file"] = o.file;
    j["valid"] = p.has_value();
    j["errors"] = nlohmann::json::array();
    j["actions"] = nlohmann::json::array();
    if (p) {
      for (std::size_t i : p->order) j["actions"].push_back(core::ToJson(p->actions[i]));
    } else {
      for (const auto& d : p.error()) {
        j["errors"].push_back({{"file", d.file},
                               {"line", d.pos.line},
                               {"column", d.pos.column},
                               {"message", d.message}});
      }
    }
    out << j.dump(2) << "\n";
    return p ? 0 : 1;
  }
  if (!p) {
    for (const auto& d : p.error()) err << d.ToString() << "\n";
    err << o.file << ": " << p.error().size()
        << (p.error().size() == 1 ? " error" : " errors")
        << "; fix them and run 'sluss check' again before you push\n";
    return 1;
  }
  out << o.file << ": valid, " << p->actions.size()
      << (p->actions.size() == 1 ? " action" : " actions") << "\n\n";
  PrintPlan(*p, out);
  return 0;
}

}  // namespace sluss::cli
