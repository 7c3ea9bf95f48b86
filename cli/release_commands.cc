// sluss release create|add|remove|submit|withdraw|show|list|download and
// sluss review: the airlock, for researchers and output checkers.

#include <filesystem>
#include <fstream>

#include "cli/internal/session.h"
#include "cli/table.h"
#include "core/digest.h"

namespace sluss::cli {

namespace {

// A path as the airlock keeps it, safe to create under -o DIR: relative,
// no `..`, no empty segments. The server checks this too; a download never
// trusts it.
bool SafeRelative(const std::string& p) {
  if (p.empty() || p.front() == '/' || p.find('\0') != std::string::npos) return false;
  for (const auto& seg : std::filesystem::path(p))
    if (seg.empty() || seg == ".." || seg == ".") return false;
  return true;
}

std::string Encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

class ReleaseRunner : public Session {
 public:
  using Session::Session;

  int Release() {
    const auto& p = a_.positional;
    const std::string sub = p.empty() ? "" : p[0];
    if (sub == "list" && p.size() == 1) return List();
    if (sub == "create" && p.size() == 1 && !Flag(a_, "--project").empty()) {
      json body = {{"project", Flag(a_, "--project")}, {"context", Flag(a_, "--context")}};
      return Show(Call("POST", "/v1/releases", &body));
    }
    // An output by its path, or the job's full log (--log stdout|stderr).
    if (sub == "add" && p.size() == (Flag(a_, "--log").empty() ? 3u : 2u) && !Flag(a_, "--job").empty()) {
      json body = json::object();
      if (p.size() == 3) body["path"] = p[2];
      if (auto l = Flag(a_, "--log"); !l.empty()) body["log"] = l;
      try {
        body["job"] = std::stoll(Flag(a_, "--job"));
      } catch (const std::exception&) {
        return Usage("release add ID PATH --job JOB | release add ID --log stdout|stderr --job JOB");
      }
      for (const char* f : {"group", "context", "controls", "exception"})
        if (auto v = Flag(a_, StrCat("--", f)); !v.empty()) body[f] = v;
      return Show(Call("POST", StrCat("/v1/releases/", Encode(p[1]), "/files"), &body));
    }
    if (sub == "remove" && p.size() == 3)
      return Show(Call("DELETE", StrCat("/v1/releases/", Encode(p[1]), "/files/", Encode(p[2]))));
    if ((sub == "submit" || sub == "withdraw") && p.size() == 2)
      return Show(Call("POST", StrCat("/v1/releases/", Encode(p[1]), "/", sub)));
    if (sub == "show" && p.size() == 2) return Show(Call("GET", StrCat("/v1/releases/", Encode(p[1]))));
    if (sub == "download" && p.size() >= 2 && !Flag(a_, "--output").empty()) return Download();
    return Usage(
        "release create --project P [--context TEXT] | release add ID PATH --job JOB "
        "[--group G] [--context TEXT] [--controls TEXT] [--exception TEXT] | release add ID "
        "--log stdout|stderr --job JOB | release remove ID "
        "PATH | release submit ID | release withdraw ID | release show ID | release list "
        "[--project P] | release download ID -o DIR [PATH...]");
  }

  int Review() {
    const auto& p = a_.positional;
    if (p.size() != 1) return ReviewUsage();
    const std::string base = StrCat("/v1/releases/", Encode(p[0]));
    const std::string comment = Flag(a_, "--comment");
    int given = 0;
    for (const char* f : {"--approve", "--request-changes", "--submit", "--return", "--reject", "--release"})
      given += a_.flags.count(f) ? 1 : 0;
    if (given != 1) return ReviewUsage();
    json body = json::object();
    if (!comment.empty()) body["comment"] = comment;
    if (auto f = Flag(a_, "--approve"); !f.empty()) {
      body["path"] = f;
      body["vote"] = "approve";
      return Show(Call("POST", base + "/votes", &body));
    }
    if (auto f = Flag(a_, "--request-changes"); !f.empty()) {
      if (comment.empty()) return ReviewUsage();
      body["path"] = f;
      body["vote"] = "request_changes";
      return Show(Call("POST", base + "/votes", &body));
    }
    if (a_.flags.count("--submit")) return Show(Call("POST", base + "/review", &body));
    if (a_.flags.count("--return")) return Show(Call("POST", base + "/return", &body));
    if (a_.flags.count("--reject")) return Show(Call("POST", base + "/reject", &body));
    // Releasing a reviewed request approves it first (two audit records).
    auto r = Call("GET", base);
    if (!r) return exit_;
    if (Str((*r)["state"]) == "reviewed" && !Call("POST", base + "/approve", &body)) return exit_;
    return Show(Call("POST", base + "/release", &body));
  }

 private:
  int ReviewUsage() {
    return Usage(
        "review ID --approve FILE | --request-changes FILE --comment TEXT | --submit | "
        "--return --comment TEXT | --reject --comment TEXT | --release");
  }

  int List() {
    std::string path = "/v1/releases";
    if (auto p = Flag(a_, "--project"); !p.empty()) path += "?project=" + Encode(p);
    auto j = Call("GET", path);
    if (!j) return exit_;
    if (MaybeJson(*j)) return kExitOk;
    Table t({"ID", "PROJECT", "AUTHOR", "STATE", "FILES", "UPDATED"});
    for (const auto& r : (*j)["releases"])
      t.AddRow({Str(r["id"]), Str(r["project"]), Str(r["author"]), Str(r["state"]),
                std::to_string(r["files"].size()), Ago(r["updated_at"])});
    t.Print(out_);
    return kExitOk;
  }

  int Show(const std::optional<json>& j) {
    if (!j) return exit_;
    if (MaybeJson(*j)) return kExitOk;
    const json& r = *j;
    out_ << "release request " << Str(r["id"]) << " of " << Str(r["project"]) << " by "
         << Str(r["author"]) << ": " << Str(r["state"]) << "\n";
    for (const auto& [name, g] : r["groups"].items())
      out_ << "group " << TerminalSafe(name) << ": " << Str(g["context"])
           << (g.value("controls", "").empty() ? "" : StrCat(" (controls: ", Str(g["controls"]), ")"))
           << "\n";
    Table t({"PATH", "JOB", "SIZE", "SHA256", "CHECKS", "VOTES"});
    std::vector<std::string> notes;
    for (const auto& f : r["files"]) {
      std::vector<std::string> votes;
      for (const auto& v : f["votes"]) votes.push_back(StrCat(Str(v["checker"]), ":", Str(v["vote"])));
      t.AddRow({Str(f["path"]), Str(f["job"]), Str(f["size"]), Str(f["sha256"]).substr(0, 12),
                Str(f["verdict"]), votes.empty() ? "-" : core::Join(votes, ",")});
      for (const auto& x : f["checks"].value("findings", json::array()))
        notes.push_back(StrCat(Str(f["path"]), ": ", Str(x["outcome"]), ": ", Str(x["message"])));
      if (!f.value("exception", "").empty())
        notes.push_back(StrCat(Str(f["path"]), ": exception: ", Str(f["exception"])));
    }
    t.Print(out_);
    for (const auto& n : notes) out_ << "  " << n << "\n";
    for (const auto& c : r["comments"])
      out_ << "comment by " << Str(c["author"]) << (c.value("path", "").empty() ? "" : " on " + Str(c["path"]))
           << ": " << Str(c["text"]) << "\n";
    return kExitOk;
  }

  // Every file (or those named), each checked against its SHA-256, written
  // under DIR at its path.
  int Download() {
    const auto& p = a_.positional;
    auto r = Call("GET", StrCat("/v1/releases/", Encode(p[1])));
    if (!r) return exit_;
    const std::filesystem::path dir = Flag(a_, "--output");
    std::vector<std::string> want(p.begin() + 2, p.end());
    json done = json::array();
    for (const auto& f : (*r)["files"]) {
      const std::string path = f.value("path", "");
      if (!want.empty() && std::find(want.begin(), want.end(), path) == want.end()) continue;
      if (!SafeRelative(path)) {
        err_ << "sluss: refusing to write " << TerminalSafe(path) << " outside " << dir << "\n";
        return kExitError;
      }
      auto reply = CallRaw("GET", StrCat("/v1/releases/", Encode(p[1]), "/files/", Encode(path)));
      if (!reply) return exit_;
      const std::string sha = core::Sha256Hex(reply->text);
      if (sha != f.value("sha256", "")) {
        err_ << "sluss: " << TerminalSafe(path) << " arrived with another SHA-256; not written\n";
        return kExitError;
      }
      std::error_code ec;
      const auto target = dir / path;
      std::filesystem::create_directories(target.parent_path(), ec);
      std::ofstream out(target, std::ios::binary | std::ios::trunc);
      out << reply->text;
      if (!out.flush()) {
        err_ << "sluss: cannot write " << target << "\n";
        return kExitError;
      }
      done.push_back({{"path", path}, {"sha256", sha}, {"size", reply->text.size()}, {"file", target.string()}});
      if (!a_.json) out_ << TerminalSafe(path) << "  " << sha.substr(0, 12) << "  " << reply->text.size() << " bytes\n";
    }
    if (a_.json) out_ << json{{"files", done}}.dump(2) << "\n";
    return kExitOk;
  }
};

}  // namespace

bool IsReleaseSubcommand(const std::vector<std::string>& words) {
  for (const auto& w : words) {
    if (w.starts_with("-")) continue;
    return w == "create" || w == "add" || w == "remove" || w == "submit" || w == "withdraw" ||
           w == "show" || w == "list" || w == "download";
  }
  return false;
}

int RunReleaseCommand(const std::string& command, const Args& args, Client client,
                      std::ostream& out, std::ostream& err) {
  ReleaseRunner r(std::move(client), args, out, err);
  return command == "review" ? r.Review() : r.Release();
}

}  // namespace sluss::cli
