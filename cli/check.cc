#include "cli/check.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/table.h"
#include "core/image_contents.h"
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

struct Warning {
  core::Position pos;
  std::string message;
};

// The warnings of a valid pipeline against the server's images; `note`
// says why images could not be checked, if they could not.
std::vector<Warning> CheckImages(const core::Pipeline& p, const ImageLookup& lookup,
                                 std::string* note) {
  std::vector<Warning> out;
  std::map<std::string, core::Result<ImageFacts>> facts;
  for (std::size_t i : p.order) {
    const core::Action& a = p.actions[i];
    auto it = facts.find(a.image);
    if (it == facts.end()) it = facts.emplace(a.image, lookup(a.image)).first;
    if (!it->second) {
      *note = StrCat("images not checked: ", it->second.error().message);
      return {};
    }
    const ImageFacts& f = *it->second;
    if (!f.approved) {
      out.push_back({a.image_pos, StrCat("action ", core::Quote(a.name), ": image ", core::Quote(a.image),
                                         " is not approved on this server (sluss images lists them)")});
      continue;
    }
    auto interpreter = core::InterpreterOf(a.run);
    if (!interpreter) continue;
    if (std::find(f.interpreters.begin(), f.interpreters.end(), *interpreter) != f.interpreters.end())
      continue;
    out.push_back({a.pos, StrCat("action ", core::Quote(a.name), " runs ", *interpreter, ", but image ",
                                 core::Quote(a.image), " has no ", *interpreter, " (it has ",
                                 f.interpreters.empty() ? std::string("none of python3, Rscript, R")
                                                        : core::Join(f.interpreters, ", "),
                                 "; sluss image show ", a.image, " lists what it holds)")});
  }
  return out;
}

}  // namespace

ImageLookup ServerImageLookup(Client client) {
  return [client = std::move(client)](const std::string& image) -> core::Result<ImageFacts> {
    if (image.empty() ||
        image.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._-") != std::string::npos)
      return ImageFacts{};  // not a name the server can have
    auto r = client.Call("GET", StrCat("/v1/images/", image));
    if (!r) return std::unexpected(r.error());
    if (r->status == 404) return ImageFacts{};
    if (r->status != 200 || !r->body.is_object())
      return core::Fail(core::ErrorCode::kUnavailable,
                        StrCat(client.settings().server, " answered ", r->status, " for image ", image,
                               r->body.is_object() && r->body.contains("message")
                                   ? StrCat(": ", r->body["message"].dump())
                                   : std::string()));
    ImageFacts f{true, {}};
    if (r->body.contains("interpreters") && r->body["interpreters"].is_array())
      for (const auto& i : r->body["interpreters"])
        if (i.is_string()) f.interpreters.push_back(i.get<std::string>());
    return f;
  };
}

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
  std::vector<Warning> warnings;
  std::string note;
  if (p && o.images) warnings = CheckImages(*p, o.images, &note);
  if (o.json) {
    nlohmann::json j;
    j["file"] = o.file;
    j["valid"] = p.has_value();
    j["errors"] = nlohmann::json::array();
    j["warnings"] = nlohmann::json::array();
    for (const auto& w : warnings)
      j["warnings"].push_back({{"file", o.file}, {"line", w.pos.line}, {"column", w.pos.column},
                               {"message", w.message}});
    if (!note.empty()) j["images_checked"] = false;
    else if (o.images) j["images_checked"] = true;
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
  for (const auto& w : warnings)
    err << o.file << ":" << w.pos.line << ":" << w.pos.column << ": warning: " << w.message << "\n";
  if (!note.empty()) err << "sluss check: " << note << "\n";
  return 0;
}

}  // namespace sluss::cli
