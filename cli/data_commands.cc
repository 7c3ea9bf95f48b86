// sluss dataset | permit | provenance | outputs | audit: the data steward's
// and the auditor's commands, and the outputs of a run as metadata.

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/internal/audit_offline.h"
#include "cli/internal/session.h"
#include "cli/table.h"
#include "core/audit.h"
#include "core/digest.h"

namespace sluss::cli {

namespace {

std::string Bytes(std::int64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

core::Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::NotFound(StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class DataRunner : public Session {
 public:
  using Session::Session;

  int Dataset(const std::string& command) {
    const auto& p = a_.positional;
    std::string sub = command == "datasets" ? "list" : p.empty() ? "" : p[0];
    if (sub == "list") return ListDatasets();
    if (sub == "add" && p.size() == 4) {
      json body = {{"name", p[1]}, {"version", p[2]}, {"path", p[3]}};
      auto d = Call("POST", "/v1/datasets", &body);
      if (!d) return exit_;
      return WaitHashed(p[1], p[2], "");
    }
    if (sub == "show" && p.size() == 3) {
      auto d = Call("GET", StrCat("/v1/datasets/", p[1], "/", p[2]));
      if (!d) return exit_;
      if (MaybeJson(*d)) return kExitOk;
      for (const char* k : {"name", "version", "path", "state", "id", "files", "bytes",
                            "registered_by", "registered_at", "verified_at", "error"})
        if (d->contains(k)) out_ << k << ": " << Str((*d)[k]) << "\n";
      return kExitOk;
    }
    if (sub == "verify" && p.size() == 3) {
      auto before = Call("GET", StrCat("/v1/datasets/", p[1], "/", p[2]));
      if (!before) return exit_;
      auto d = Call("POST", StrCat("/v1/datasets/", p[1], "/", p[2], "/verify"));
      if (!d) return exit_;
      return WaitHashed(p[1], p[2], Str((*before)["verified_at"]));
    }
    return Usage(
        "dataset add NAME VERSION PATH | dataset list | dataset show NAME VERSION | "
        "dataset verify NAME VERSION");
  }

  int Permit(const std::string& command) {
    const auto& p = a_.positional;
    std::string sub = command == "permits" ? "list" : p.empty() ? "" : p[0];
    if (sub == "list") {
      std::string q = Flag(a_, "--project").empty() ? "" : "?project=" + Flag(a_, "--project");
      auto all = Call("GET", "/v1/permits" + q);
      if (!all) return exit_;
      if (MaybeJson(*all)) return kExitOk;
      Table t({"PERMIT", "PROJECT", "DATASETS", "PERSONS", "VALID", "FROM", "UNTIL"});
      for (const auto& x : (*all)["permits"]) {
        std::vector<std::string> ds;
        for (const auto& d : x["datasets"])
          ds.push_back(d.contains("version") ? StrCat(Str(d["name"]), "@", Str(d["version"]))
                                             : Str(d["name"]));
        t.AddRow({Str(x["id"]), Str(x["project"]), core::Join(ds, ","),
                  StrCat(x["persons"].size()),
                  x["revoked_at"].is_null() ? (x.value("valid", false) ? "yes" : "no") : "revoked",
                  Str(x["valid_from"]).substr(0, 10), Str(x["valid_until"]).substr(0, 10)});
      }
      t.Print(out_);
      return kExitOk;
    }
    if (sub == "grant" && p.size() == 2) {
      json datasets = json::array(), persons = json::array();
      for (const auto& d : SplitList(Flag(a_, "--datasets"))) datasets.push_back(d);
      for (const auto& d : SplitList(Flag(a_, "--persons"))) persons.push_back(d);
      json body = {{"id", p[1]},
                   {"project", Flag(a_, "--project")},
                   {"datasets", datasets},
                   {"persons", persons},
                   {"purpose", Flag(a_, "--purpose")},
                   {"valid_from", Flag(a_, "--from")},
                   {"valid_until", Flag(a_, "--until")}};
      auto made = Call("POST", "/v1/permits", &body);
      if (!made) return exit_;
      if (MaybeJson(*made)) return kExitOk;
      out_ << "permit " << Str((*made)["id"]) << " granted to project " << Str((*made)["project"])
           << ", valid " << Str((*made)["valid_from"]) << " to " << Str((*made)["valid_until"])
           << "\n";
      return kExitOk;
    }
    if (sub == "show" && p.size() == 2) {
      auto x = Call("GET", "/v1/permits/" + p[1]);
      if (!x) return exit_;
      out_ << x->dump(2) << "\n";
      return kExitOk;
    }
    if (sub == "revoke" && p.size() == 2) {
      json body = {{"reason", Flag(a_, "--reason")}};
      auto x = Call("POST", StrCat("/v1/permits/", p[1], "/revoke"), &body);
      if (!x) return exit_;
      if (MaybeJson(*x)) return kExitOk;
      out_ << "permit " << p[1] << " revoked; its jobs are being cancelled (permit_revoked)\n";
      return kExitOk;
    }
    if ((sub == "checks" || sub == "set-checks") && p.size() == 2) {
      std::optional<json> got;
      if (sub == "checks") {
        got = Call("GET", StrCat("/v1/permits/", p[1], "/checks"));
      } else {
        // The values given replace what was set; those not given are the
        // defaults again.
        json body = json::object();
        for (auto [flag, key] : {std::pair{"--min-count", "threshold"}, std::pair{"--round", "round"},
                                 std::pair{"--max-size", "max_file_bytes"}}) {
          const std::string v = Flag(a_, flag);
          if (v.empty()) continue;
          char* end = nullptr;
          long long n = std::strtoll(v.c_str(), &end, 10);
          if (v.empty() || *end != '\0') return Usage(StrCat(flag, " takes a whole number"));
          body[key] = n;
        }
        if (auto z = Flag(a_, "--zeros"); !z.empty()) {
          if (z != "allowed" && z != "disclosive") return Usage("--zeros allowed|disclosive");
          body["zeros_allowed"] = z == "allowed";
        }
        if (auto t = Flag(a_, "--types"); !t.empty()) body["allowed_types"] = SplitList(t);
        got = Call("PUT", StrCat("/v1/permits/", p[1], "/checks"), &body);
      }
      if (!got) return exit_;
      if (MaybeJson(*got)) return kExitOk;
      const json& e = (*got)["effective"];
      const json& src = e["sources"];
      out_ << "disclosure checks of permit " << Str((*got)["permit"]) << " (project "
           << Str((*got)["project"]) << ")";
      if (got->contains("set_by")) out_ << ", set by " << Str((*got)["set_by"]) << " " << Str((*got)["set_at"]);
      out_ << "\n";
      Table t({"PARAMETER", "VALUE", "SET BY"});
      auto src_of = [&](const char* k) { return src.contains(k) ? Str(src[k]) : std::string("default"); };
      t.AddRow({"minimum count", StrCat(e["threshold"].get<std::int64_t>()), src_of("threshold")});
      t.AddRow({"rounding", e["round"].get<int>() > 0 ? StrCat("to ", e["round"].get<int>()) : "as sluss.yaml declares",
                src_of("round")});
      t.AddRow({"zeros", e["zeros_allowed"].get<bool>() ? "allowed" : "disclosive", src_of("zeros")});
      t.AddRow({"max file size", StrCat(e["max_file_bytes"].get<std::int64_t>(), " bytes"), src_of("max_file_bytes")});
      std::vector<std::string> types;
      for (const auto& x : e["allowed_types"]) types.push_back(Str(x));
      t.AddRow({"file types", core::Join(types, ","), src_of("allowed_types")});
      t.Print(out_);
      return kExitOk;
    }
    return Usage(
        "permit grant ID --project P --datasets D1,D2@V --persons A,B --purpose TEXT "
        "--from DATE --until DATE | permit list [--project P] | permit show ID | "
        "permit revoke ID [--reason TEXT] | permit checks ID | permit set-checks ID "
        "[--min-count N] [--round N] [--zeros allowed|disclosive] [--max-size BYTES] "
        "[--types csv,tsv,...]");
  }

  // Metadata only: what each job wrote, and the disclosure checks' verdict
  // on what may leave. The first finding of a file that is not `pass` is
  // shown below it; --json has them all, with the column summaries.
  int Outputs() {
    const auto& p = a_.positional;
    if (p.size() != 1) return Usage("outputs RUN");
    auto j = Call("GET", StrCat("/v1/runs/", p[0], "/outputs"));
    if (!j) return exit_;
    if (MaybeJson(*j)) return kExitOk;
    out_ << "run " << Str((*j)["run"]) << " of " << Str((*j)["project"]) << " at "
         << Str((*j)["commit"]).substr(0, 10) << "\n";
    Table t({"JOB", "ACTION", "PATH", "LEVEL", "SIZE", "SHA256", "CHECKS"});
    std::vector<std::string> notes;
    for (const auto& job : (*j)["jobs"]) {
      std::string id = Str(job["job"]);
      if (job.contains("made_by_job")) id += StrCat(" (cached from ", Str(job["made_by_job"]), ")");
      for (const auto& o : job["outputs"]) {
        std::string checks = "-";
        if (o.contains("checks")) {
          const auto& c = o["checks"];
          checks = c.contains("error") ? std::string("unavailable") : Str(c["outcome"]);
          for (const auto& f : c.value("findings", nlohmann::json::array())) {
            notes.push_back(StrCat(Str(o["path"]), ": ", Str(f["outcome"]), ": ", Str(f["message"])));
          }
          if (c.contains("error")) notes.push_back(StrCat(Str(o["path"]), ": ", Str(c["error"])));
        }
        std::string sha = Str(o["sha256"]);
        t.AddRow({id, Str(job["action"]), Str(o["path"]), Str(o["level"]),
                  Bytes(o.value("size", std::int64_t{0})), sha.substr(0, 12), checks});
      }
    }
    t.Print(out_);
    for (const auto& n : notes) out_ << "  " << n << "\n";
    return kExitOk;
  }

  int Provenance() {
    const auto& p = a_.positional;
    if (!Flag(a_, "--job").empty()) {
      auto j = Call("GET", StrCat("/v1/jobs/", Flag(a_, "--job"), "/provenance"));
      if (!j) return exit_;
      out_ << j->dump(2) << "\n";
      return kExitOk;
    }
    if (p.size() != 1) return Usage("provenance RUN [-o DIR] | provenance --job JOB");
    auto crate = Call("GET", StrCat("/v1/runs/", p[0], "/provenance"));
    if (!crate) return exit_;
    const std::string dir = Flag(a_, "--output");
    if (dir.empty()) {
      out_ << crate->dump(2) << "\n";
      return kExitOk;
    }
    // A BagIt bag (RFC 8493): the crate as its payload, hashed.
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(fs::path(dir) / "data", ec);
    if (ec) {
      err_ << "sluss: cannot create " << dir << ": " << ec.message() << "\n";
      return kExitError;
    }
    const std::string metadata = crate->dump(2) + "\n";
    const std::string bagit = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
    const std::string manifest =
        StrCat(core::Sha256Hex(metadata), "  data/ro-crate-metadata.json\n");
    const std::string tags = StrCat(core::Sha256Hex(bagit), "  bagit.txt\n",
                                    core::Sha256Hex(manifest), "  manifest-sha256.txt\n");
    for (auto [name, text] : {std::pair{"data/ro-crate-metadata.json", &metadata},
                              std::pair{"bagit.txt", &bagit},
                              std::pair{"manifest-sha256.txt", &manifest},
                              std::pair{"tagmanifest-sha256.txt", &tags}}) {
      std::ofstream f(fs::path(dir) / name, std::ios::binary | std::ios::trunc);
      f << *text;
      if (!f) {
        err_ << "sluss: cannot write " << (fs::path(dir) / name).string() << "\n";
        return kExitError;
      }
    }
    std::size_t actions = 0;
    for (const auto& e : (*crate)["@graph"])
      if (e.value("@type", "") == "CreateAction") ++actions;
    out_ << "wrote " << dir << "/data/ro-crate-metadata.json (" << actions
         << " jobs) as a BagIt bag; payload SHA-256 " << core::Sha256Hex(metadata) << "\n";
    return kExitOk;
  }

  int Audit() {
    const auto& p = a_.positional;
    std::string sub = p.empty() ? "" : p[0];
    if (sub == "verify") {
      if (!Flag(a_, "--db").empty())
        return VerifyAuditDatabase(Flag(a_, "--db"), Flag(a_, "--public-key"), a_.json, out_, err_);
      return VerifyOnline();
    }
    if (sub == "list") {
      auto page = Call("GET", StrCat("/v1/audit?after=", Flag(a_, "--after", "0"),
                                     "&limit=", Flag(a_, "--limit", "50")));
      if (!page) return exit_;
      if (MaybeJson(*page)) return kExitOk;
      Table t({"SEQ", "TIME", "ACTOR", "ACTION", "SUBJECT"});
      for (const auto& r : (*page)["records"])
        t.AddRow({Str(r["seq"]), Str(r["time"]), Str(r["actor"]), Str(r["action"]),
                  Str(r["subject"])});
      t.Print(out_);
      return kExitOk;
    }
    if (sub == "proof" && p.size() == 2) return Proof(p[1]);
    return Usage(
        "audit list [--after N] [--limit N] | audit verify [--public-key FILE] | "
        "audit verify --db FILE --public-key FILE | audit proof SEQ");
  }

 private:
  int ListDatasets() {
    auto all = Call("GET", "/v1/datasets");
    if (!all) return exit_;
    if (MaybeJson(*all)) return kExitOk;
    Table t({"NAME", "VERSION", "STATE", "ID", "FILES", "SIZE", "REGISTERED"});
    for (const auto& d : (*all)["datasets"]) {
      std::string id = Str(d["id"]);
      t.AddRow({Str(d["name"]), Str(d["version"]), Str(d["state"]),
                id.size() > 19 ? id.substr(0, 19) : id, Str(d["files"]),
                Bytes(d.value("bytes", 0)), Ago(d["registered_at"])});
    }
    t.Print(out_);
    return kExitOk;
  }

  // Polls until hashing (or a full check that started after `verified_before`)
  // is over, showing progress on stderr.
  int WaitHashed(const std::string& name, const std::string& version,
                 const std::string& verified_before) {
    const bool tty = isatty(2);
    const bool verifying = !verified_before.empty();
    for (;;) {
      auto d = Call("GET", StrCat("/v1/datasets/", name, "/", version));
      if (!d) return exit_;
      const std::string state = Str((*d)["state"]);
      const bool checked = verifying && (Str((*d)["verified_at"]) != verified_before ||
                                         d->contains("error"));
      if (state != "hashing" && (!verifying || checked)) {
        if (tty) err_ << "\r\033[K";
        if (MaybeJson(*d)) return state == "ready" && !d->contains("error") ? kExitOk : kExitError;
        if (state == "ready" && !d->contains("error")) {
          out_ << "dataset " << name << " " << version << (verifying ? " matches its manifest: " : ": ")
               << Str((*d)["id"]) << " (" << Str((*d)["files"]) << " files, "
               << Bytes(d->value("bytes", 0)) << ")\n";
          return kExitOk;
        }
        err_ << "sluss: dataset " << name << " " << version << ": " << Str((*d)["error"]) << "\n";
        return kExitError;
      }
      std::int64_t done = d->value("hashed_bytes", 0), total = d->value("bytes", 0);
      if (tty)
        err_ << "\r\033[K" << (verifying ? "checking " : "hashing ") << name << " " << version
             << ": " << Bytes(done) << " of " << Bytes(total)
             << (total > 0 ? StrCat(" (", done * 100 / total, "%)") : std::string()) << std::flush;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  }

  int VerifyOnline() {
    auto cps = Call("GET", "/v1/audit/checkpoints");
    if (!cps) return exit_;
    std::string key;
    if (!Flag(a_, "--public-key").empty()) {
      auto k = ReadFile(Flag(a_, "--public-key"));
      if (!k) {
        err_ << "sluss: " << k.error().message << "\n";
        return kExitError;
      }
      key = *k;
    } else {
      key = Str((*cps)["public_key"]);
      err_ << "sluss: checking signatures with the key the server reports (id "
           << Str((*cps)["key_id"]) << "); give --public-key FILE to use your own copy\n";
    }
    core::AuditVerifier v;
    std::int64_t after = 0;
    for (;;) {
      auto page = Call("GET", StrCat("/v1/audit?limit=10000&after=", after));
      if (!page) return exit_;
      // Each read of the log is itself a record: stop at a short page.
      const bool last = (*page)["records"].size() < 10000;
      for (const auto& r : (*page)["records"]) {
        auto rec = core::AuditRecordFromJson(r);
        if (!rec) {
          err_ << "sluss: " << rec.error().message << "\n";
          return kExitError;
        }
        v.Add(*rec);
        after = rec->seq;
      }
      if (last) break;
    }
    std::vector<core::AuditCheckpoint> checkpoints;
    for (const auto& c : (*cps)["checkpoints"]) {
      auto cp = core::AuditCheckpointFromJson(c);
      if (cp) checkpoints.push_back(*cp);
    }
    return PrintAuditReport(v.Finish(checkpoints, key), a_.json, out_, err_);
  }

  int Proof(const std::string& seq) {
    auto proof = Call("GET", "/v1/audit/proof?seq=" + seq);
    if (!proof) return exit_;
    if (MaybeJson(*proof)) return kExitOk;
    auto cp = core::AuditCheckpointFromJson((*proof)["checkpoint"]);
    auto rec = core::AuditRecordFromJson((*proof)["record"]);
    if (!cp || !rec) {
      err_ << "sluss: the server's proof is malformed\n";
      return kExitError;
    }
    std::vector<core::Sha256Digest> path;
    for (const auto& h : (*proof)["inclusion_path"])
      if (auto d = core::DigestFromHex(h.get<std::string>())) path.push_back(*d);
    auto record_hash = core::DigestFromHex(core::AuditRecordHash(*rec));
    auto root = core::DigestFromHex(cp->root);
    const bool ok = record_hash && root && rec->hash == core::AuditRecordHash(*rec) &&
                    core::VerifyInclusion(core::MerkleLeafHash(*record_hash),
                                          static_cast<std::uint64_t>(rec->seq - 1),
                                          static_cast<std::uint64_t>(cp->tree_size), path, *root);
    out_ << "record " << rec->seq << " (" << rec->action << " " << rec->subject << ") is "
         << (ok ? "" : "NOT ") << "in the tree of " << cp->tree_size << " records signed at "
         << core::FormatRfc3339(cp->time) << " (root " << cp->root.substr(0, 16) << ", "
         << path.size() << " hashes)\n";
    return ok ? kExitOk : kExitError;
  }
};

}  // namespace

int PrintAuditReport(const core::AuditVerifyReport& r, bool as_json, std::ostream& out,
                     std::ostream& err) {
  if (as_json) {
    json j = {{"ok", r.ok},
              {"records", r.records},
              {"checkpoints", r.checkpoints},
              {"unsigned_records", r.unsigned_records},
              {"purged_payloads", r.purged_payloads}};
    if (!r.ok) {
      j["bad_seq"] = *r.bad_seq;
      j["problem"] = r.problem;
    }
    out << j.dump(2) << "\n";
    return r.ok ? kExitOk : kExitError;
  }
  if (!r.ok) {
    err << "audit log: NOT VALID: " << r.problem << "\n";
    return kExitError;
  }
  out << "audit log: ok, " << r.records << " records, chain intact, " << r.checkpoints
      << " signed checkpoints verified";
  if (r.unsigned_records > 0) out << ", " << r.unsigned_records << " newest records not signed yet";
  if (r.purged_payloads > 0) out << ", " << r.purged_payloads << " payloads past retention";
  out << "\n";
  return kExitOk;
}

int RunDataCommand(const std::string& command, const Args& args, Client client,
                   std::ostream& out, std::ostream& err) {
  DataRunner r(std::move(client), args, out, err);
  if (command == "dataset" || command == "datasets") return r.Dataset(command);
  if (command == "permit" || command == "permits") return r.Permit(command);
  if (command == "provenance") return r.Provenance();
  if (command == "outputs") return r.Outputs();
  if (command == "audit") return r.Audit();
  return kExitUsage;
}

}  // namespace sluss::cli
