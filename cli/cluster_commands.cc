// sluss nodes | drain | resume | queue | images | image: the operator's
// view of where jobs run (node pools, the queue) and what they run in
// (approved images).

#include <string>

#include "cli/internal/session.h"
#include "cli/table.h"
#include "core/strings.h"

namespace sluss::cli {

using core::StrCat;
using nlohmann::json;

namespace {

class ClusterRunner : public Session {
 public:
  using Session::Session;

  int Nodes() {
    auto n = Call("GET", "/v1/nodes");
    if (!n) return exit_;
    if (MaybeJson(*n)) return kExitOk;
    // Each pool: its executor, used of its capacity, what runs there and
    // what waits that it could take.
    Table t({"NODE", "STATE", "EXECUTOR", "CPUS", "MEMORY", "GPUS", "RUNNING", "PENDING", "PROJECTS"});
    for (const auto& x : (*n)["nodes"]) {
      const json& used = x.contains("used") ? x["used"] : json::object();
      auto of = [&](const char* key, const std::string& total) {
        return used.contains(key) ? Str(used[key]) + "/" + total : total;
      };
      std::string projects;
      for (const auto& p : x.value("projects", json::array()))
        projects += (projects.empty() ? "" : ",") + Str(p);
      t.AddRow({Str(x["name"]), Str(x["state"]), Str(x.value("executor", json("local"))),
                of("cpus", Str(x["cpus"])), of("memory", Str(x["memory"])),
                of("gpus", std::to_string(x["gpus"].size())), Str(x.value("running", json(0))),
                Str(x.value("pending", json(0))), projects.empty() ? "all" : projects});
    }
    t.Print(out_);
    return kExitOk;
  }

  int Drain(bool drain) {
    if (a_.positional.size() != 1) return Usage(drain ? "drain NODE [--reason R]" : "resume NODE");
    json body = json::object();
    if (auto r = Flag(a_, "--reason"); !r.empty()) body["reason"] = r;
    auto n = Call("POST", "/v1/nodes/" + a_.positional[0] + (drain ? "/drain" : "/resume"),
                  drain ? &body : nullptr);
    if (!n) return exit_;
    if (MaybeJson(*n)) return kExitOk;
    out_ << "node " << a_.positional[0] << (drain ? " drained: running jobs finish, no new ones start"
                                                  : " resumed") << "\n";
    return kExitOk;
  }

  int Queue() {
    std::string verb = a_.positional.empty() ? "show" : a_.positional[0];
    if (verb == "pause" || verb == "resume") {
      json body = json::object();
      if (auto r = Flag(a_, "--reason"); !r.empty()) body["reason"] = r;
      if (!Call("POST", "/v1/queue/" + verb, verb == "pause" ? &body : nullptr)) return exit_;
    } else if (verb != "show") {
      return Usage("queue [show|pause|resume] [--reason R]");
    }
    auto q = Call("GET", "/v1/queue");
    if (!q) return exit_;
    if (MaybeJson(*q)) return kExitOk;
    if ((*q)["paused"].get<bool>()) {
      out_ << "queue paused by " << Str((*q)["by"]) << " " << Ago((*q)["at"]) << ": "
           << Str((*q)["reason"]) << "\n";
    } else {
      out_ << "queue running\n";
    }
    return kExitOk;
  }

  int Images() {
    auto n = Call("GET", "/v1/images");
    if (!n) return exit_;
    if (MaybeJson(*n)) return kExitOk;
    Table t({"IMAGE", "KIND", "FROM", "DIGEST"});
    for (const auto& x : (*n)["images"])
      t.AddRow({Str(x["name"]), Str(x["kind"]), Str(x["source"]), Str(x["digest"])});
    t.Print(out_);
    return kExitOk;
  }

  // sluss image add NAME ROOTFS: approve a directory on the node (admins).
  // sluss image show NAME [--ecosystem deb|python|r]: what it holds.
  int Image() {
    if (a_.positional.size() == 2 && a_.positional[0] == "show") return ImageShow(a_.positional[1]);
    if (a_.positional.size() != 3 || a_.positional[0] != "add")
      return Usage("image add NAME ROOTFS | image show NAME [--ecosystem deb|python|r]");
    json body = {{"name", a_.positional[1]}, {"rootfs", a_.positional[2]}};
    auto r = Call("POST", "/v1/images", &body);
    if (!r) return exit_;
    if (MaybeJson(*r)) return kExitOk;
    out_ << "image " << Str((*r)["name"]) << " approved: " << Str((*r)["digest"]) << "\n";
    return kExitOk;
  }

  int ImageShow(const std::string& name) {
    // Image names are [a-z0-9._-]: nothing to escape in the path.
    if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._-") != std::string::npos) {
      err_ << "sluss: no image " << core::Quote(name) << " (names are [a-z0-9._-])\n";
      return kExitError;
    }
    std::string path = StrCat("/v1/images/", name);
    if (auto e = Flag(a_, "--ecosystem"); !e.empty()) {
      if (e != "deb" && e != "python" && e != "r") return Usage("image show NAME [--ecosystem deb|python|r]");
      path += "?ecosystem=" + e;
    }
    auto r = Call("GET", path);
    if (!r) return exit_;
    if (MaybeJson(*r)) return kExitOk;
    const json& i = *r;
    std::vector<std::string> interpreters;
    for (const auto& x : i["interpreters"]) interpreters.push_back(Str(x));
    out_ << "image " << Str(i["name"]) << " (" << Str(i["kind"]) << ", " << Str(i["digest"]) << ")\n"
         << "interpreters: " << (interpreters.empty() ? "none" : core::Join(interpreters, ", ")) << "\n";
    for (const auto& n : i["notes"]) out_ << "note: " << Str(n) << "\n";
    Table t({"ECOSYSTEM", "PACKAGE", "VERSION"});
    for (const auto& p : i["packages"]) t.AddRow({Str(p["ecosystem"]), Str(p["name"]), Str(p["version"])});
    out_ << "\n";
    t.Print(out_);
    out_ << i["packages"].size() << " packages\n";
    return kExitOk;
  }
};

}  // namespace

int RunClusterCommand(const std::string& command, const Args& args, Client client,
                      std::ostream& out, std::ostream& err) {
  ClusterRunner r(std::move(client), args, out, err);
  if (command == "nodes") return r.Nodes();
  if (command == "drain" || command == "resume") return r.Drain(command == "drain");
  if (command == "queue") return r.Queue();
  if (command == "images") return r.Images();
  if (command == "image") return r.Image();
  return kExitUsage;
}

}  // namespace sluss::cli
