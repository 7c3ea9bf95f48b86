#include "cli/commands.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <thread>

#include "cli/client.h"
#include "cli/internal/session.h"
#include "cli/table.h"
#include "core/quantity.h"
#include "core/strings.h"
#include "core/time.h"

namespace sluss::cli {

using core::StrCat;
using nlohmann::json;

namespace {

class Runner : public Session {
 public:
  using Session::Session;

  void PrintJobs(const json& jobs) {
    Table t({"JOB", "ACTION", "STATE", "STATUS", "ATTEMPT", "REASON"});
    for (const auto& j : jobs) {
      t.AddRow({Str(j["id"]), Str(j["action"]), Color(Str(j["state"])), Str(j["status_code"]),
                Str(j["attempt"]), Str(j["reason"])});
    }
    t.Print(out_);
  }

  void PrintRuns(const json& runs) {
    Table t({"RUN", "PROJECT", "STATE", "COMMIT", "BY", "CREATED"});
    for (const auto& r : runs) {
      std::string commit = Str(r["commit"]);
      t.AddRow({Str(r["id"]), Str(r["project"]), Color(Str(r["state"])),
                commit.size() > 10 ? commit.substr(0, 10) : commit, Str(r["submitted_by"]),
                Ago(r["created_at"])});
    }
    t.Print(out_);
  }

  // "3 running, 19,997 pending, 1 failed": a run's jobs by state.
  static std::string Counts(const json& run) {
    std::string out;
    const json& by_state = run["job_counts"]["by_state"];
    for (const char* state : {"running", "pending", "failed", "cancelled", "succeeded"}) {
      const std::int64_t n = by_state.value(state, std::int64_t{0});
      if (n == 0) continue;
      if (!out.empty()) out += ", ";
      out += StrCat(Thousands(n), " ", state);
    }
    return out.empty() ? "no jobs" : out;
  }

  static std::string Thousands(std::int64_t n) {
    std::string digits = std::to_string(n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
      out += digits[i];
    }
    return out;
  }

  // A run's summary line and the jobs that need attention (at most
  // kAttention), with the command that lists the rest.
  static constexpr int kAttention = 20;
  // `run show` lists runs of up to this many jobs whole.
  static constexpr int kListUpTo = 50;
  int PrintAttention(const json& r) {
    const std::string id = Str(r["id"]);
    auto page = Call("GET", StrCat("/v1/runs/", id, "?jobs=attention&jobs_limit=", kAttention));
    if (!page) return exit_;
    out_ << "  " << Counts(*page) << "\n";
    for (const auto& e : (*page)["errors"]) out_ << "  " << e.get<std::string>() << "\n";
    if (!(*page)["jobs"].empty()) PrintJobs((*page)["jobs"]);
    if (!(*page)["jobs_next_cursor"].is_null())
      out_ << "  more need attention: sluss run show " << id << " --jobs\n";
    return kExitOk;
  }

  int Status() {
    auto runs = Call("GET", "/v1/runs?limit=" + Flag(a_, "--limit", "5"));
    if (!runs) return exit_;
    if (a_.json) {
      json out = json::array();
      for (const auto& r : (*runs)["runs"]) {
        auto full = Call("GET", StrCat("/v1/runs/", r["id"].get<long long>(),
                                       a_.all ? "" : "?jobs=attention&jobs_limit=1000"));
        if (!full) return exit_;
        out.push_back(*full);
      }
      return MaybeJson({{"runs", out}}), kExitOk;
    }
    // A paused queue is said once, here, not on every waiting job.
    if (auto q = Call("GET", "/v1/queue"); q && q->value("paused", false))
      out_ << "queue paused by " << Str((*q)["by"]) << " " << Ago((*q)["at"]) << ": "
           << Str((*q)["reason"]) << "\n\n";
    if ((*runs)["runs"].empty()) {
      out_ << "No runs yet. Push to your project's repository to start one.\n";
      return kExitOk;
    }
    for (const auto& r : (*runs)["runs"]) {
      out_ << "run " << Str(r["id"]) << "  " << Str(r["project"]) << "  "
           << Color(Str(r["state"])) << "  " << Ago(r["created_at"]) << "\n";
      if (!a_.all) {
        if (PrintAttention(r) != kExitOk) return exit_;
        out_ << "\n";
        continue;
      }
      auto full = Call("GET", StrCat("/v1/runs/", r["id"].get<long long>()));
      if (!full) return exit_;
      for (const auto& e : (*full)["errors"]) out_ << "  " << e.get<std::string>() << "\n";
      if (!(*full)["jobs"].empty()) PrintJobs((*full)["jobs"]);
      out_ << "\n";
    }
    return kExitOk;
  }

  int Runs() {
    std::string q = "/v1/runs?limit=" + Flag(a_, "--limit", "20");
    if (auto p = Flag(a_, "--project"); !p.empty()) q += "&project=" + p;
    if (auto s = Flag(a_, "--state"); !s.empty()) q += "&state=" + s;
    auto runs = Call("GET", q);
    if (!runs) return exit_;
    if (MaybeJson(*runs)) return kExitOk;
    PrintRuns((*runs)["runs"]);
    return kExitOk;
  }

  int RunCmd() {
    if (!a_.positional.empty() && a_.positional[0] == "start") {
      if (a_.positional.size() != 2) {
        return Usage("run start PROJECT [--ref BRANCH|--commit SHA] [--actions A,B] [--force] [--wait]");
      }
      json body = {{"project", a_.positional[1]}};
      if (auto r = Flag(a_, "--ref"); !r.empty()) body["ref"] = r;
      if (auto r = Flag(a_, "--commit"); !r.empty()) body["commit"] = r;
      if (auto list = Flag(a_, "--actions"); !list.empty()) {
        json actions = json::array();
        std::size_t start = 0;
        while (start <= list.size()) {
          auto comma = list.find(',', start);
          std::string one = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
          if (!one.empty()) actions.push_back(one);
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
        body["actions"] = actions;
      }
      if (a_.force) body["force"] = true;
      auto r = Call("POST", "/v1/runs", &body);
      if (!r) return exit_;
      if (r->contains("request")) {
        // A project with a remote: slussd fetches it in the background
        // (202) and makes the run after; with --wait, wait for that.
        if (!a_.wait) {
          if (MaybeJson(*r)) return kExitOk;
          out_ << Str((*r)["message"]) << "\n";
          return kExitOk;
        }
        if (!a_.json) out_ << Str((*r)["message"]) << "\n" << std::flush;
        const std::string path = StrCat("/v1/git/requests/", (*r)["request"]["id"].get<long long>());
        for (;;) {
          auto q = Call("GET", path);
          if (!q) return exit_;
          const std::string status = Str((*q)["status"]);
          if (status == "failed") {
            err_ << "sluss: " << Str((*q)["result"]["message"]) << "\n";
            return kExitError;
          }
          if (status == "done") {
            auto run = Call("GET", StrCat("/v1/runs/", (*q)["result"]["run_id"].get<long long>()));
            if (!run) return exit_;
            *r = *run;
            (*r)["message"] = (*q)["result"]["message"];
            break;
          }
          std::this_thread::sleep_for(std::chrono::seconds(1));
        }
      }
      if (!a_.wait) {
        if (MaybeJson(*r)) return kExitOk;
        out_ << Str((*r)["message"]) << "\n\n";
        PrintJobs((*r)["jobs"]);
        return kExitOk;
      }
      // --wait: until the run ends; the exit code says how (0 succeeded).
      if (!a_.json) out_ << Str((*r)["message"]) << "\n" << std::flush;
      const std::string path = StrCat("/v1/runs/", (*r)["id"].get<long long>());
      for (;;) {
        auto run = Call("GET", path);
        if (!run) return exit_;
        const std::string state = Str((*run)["state"]);
        if (state != "pending" && state != "running") {
          if (!MaybeJson(*run)) {
            out_ << "\nrun " << Str((*run)["id"]) << " " << Color(state) << "\n";
            PrintJobs((*run)["jobs"]);
          }
          return state == "succeeded" ? kExitOk : kExitError;
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
    if (a_.positional.size() != 2) return Usage("run show|cancel RUN | run start PROJECT ...");
    const std::string& verb = a_.positional[0];
    const std::string& id = a_.positional[1];
    if (verb == "show") {
      // A large run is summarised (its counts and the jobs that need
      // attention) unless --jobs asks for the list; --json has every job.
      auto r = Call("GET", StrCat("/v1/runs/", id, "?jobs=attention&jobs_limit=", kAttention));
      if (!r) return exit_;
      std::int64_t total = 0;
      for (const auto& [_, n] : (*r)["job_counts"]["by_state"].items()) total += n.get<std::int64_t>();
      const bool summary = !a_.json && !a_.jobs && total > kListUpTo;
      if (!summary) {
        // Every job, a page at a time.
        json all = json::array();
        std::string cursor = "0";
        for (;;) {
          auto page = Call("GET", StrCat("/v1/runs/", id, "?jobs_limit=1000&cursor=", cursor));
          if (!page) return exit_;
          for (auto& j : (*page)["jobs"]) all.push_back(std::move(j));
          if ((*page)["jobs_next_cursor"].is_null()) break;
          cursor = Str((*page)["jobs_next_cursor"]);
        }
        (*r)["jobs"] = std::move(all);
        (*r)["jobs_next_cursor"] = nullptr;
      }
      if (MaybeJson(*r)) return kExitOk;
      PrintRuns(json::array({*r}));
      for (const auto& e : (*r)["errors"]) out_ << "  " << e.get<std::string>() << "\n";
      out_ << "\n";
      if (!summary) {
        PrintJobs((*r)["jobs"]);
        return kExitOk;
      }
      out_ << Counts(*r) << "; sluss run show " << id << " --jobs for the list\n";
      if (!(*r)["jobs"].empty()) {
        out_ << "\nneeding attention" << ((*r)["jobs_next_cursor"].is_null() ? "" : " (the first)")
             << ":\n";
        PrintJobs((*r)["jobs"]);
      }
      return kExitOk;
    }
    if (verb == "cancel") {
      auto r = Call("POST", "/v1/runs/" + id + "/cancel");
      if (!r) return exit_;
      if (MaybeJson(*r)) return kExitOk;
      out_ << "run " << id << ": " << Str((*r)["cancelled_jobs"]) << " jobs cancelled\n";
      return kExitOk;
    }
    return Usage("run show|cancel RUN");
  }

  int JobCmd() {
    if (a_.positional.size() != 2 || a_.positional[0] != "show") return Usage("job show JOB");
    const std::string& id = a_.positional[1];
    auto j = Call("GET", "/v1/jobs/" + id);
    if (!j) return exit_;
    auto ev = Call("GET", "/v1/jobs/" + id + "/events");
    if (!ev) return exit_;
    if (a_.json) {
      json out = *j;
      out["events"] = (*ev)["events"];
      return MaybeJson(out), kExitOk;
    }
    PrintJobs(json::array({*j}));
    out_ << "\n";
    Table t({"AT", "FROM", "TO", "ATTEMPT", "REASON"});
    for (const auto& e : (*ev)["events"]) {
      t.AddRow({Str(e["at"]), Str(e["from"]), Str(e["to"]), Str(e["attempt"]), Str(e["reason"])});
    }
    t.Print(out_);
    return kExitOk;
  }

  int JobAction(const std::string& verb) {
    if (a_.positional.size() != 1) return Usage(verb + " JOB");
    auto j = Call("POST", "/v1/jobs/" + a_.positional[0] + "/" + verb);
    if (!j) return exit_;
    if (MaybeJson(*j)) return kExitOk;
    out_ << "job " << Str((*j)["id"]) << " (" << Str((*j)["action"]) << "): "
         << Color(Str((*j)["state"])) << "/" << Str((*j)["status_code"]) << "\n";
    return kExitOk;
  }

  int Project() {
    if (a_.positional.empty()) return Usage("project create|show|webhook|pause|resume NAME");
    const std::string& verb = a_.positional[0];
    if ((verb == "pause" || verb == "resume") && a_.positional.size() == 2) {
      json body = json::object();
      if (auto r = Flag(a_, "--reason"); !r.empty()) body["reason"] = r;
      auto p = Call("POST", "/v1/projects/" + a_.positional[1] + "/" + verb,
                    verb == "pause" ? &body : nullptr);
      if (!p) return exit_;
      if (MaybeJson(*p)) return kExitOk;
      out_ << "project " << a_.positional[1]
           << (verb == "pause" ? " paused: none of its jobs start; running ones go on\n"
                               : " resumed\n");
      return kExitOk;
    }
    if (verb == "webhook" && a_.positional.size() == 2) {
      auto w = Call("POST", "/v1/projects/" + a_.positional[1] + "/webhook");
      if (!w) return exit_;
      if (MaybeJson(*w)) return kExitOk;
      std::string server = client_.settings().server;
      if (server.find("://") == std::string::npos) server = "http://" + server;
      out_ << "set the repository's push webhook (GitHub, Gitea or GitLab) to:\n"
           << "  URL:          " << server << Str((*w)["path"]) << "\n"
           << "  content type: application/json\n"
           << "  secret:       " << Str((*w)["secret"]) << "\n"
           << "The secret is shown once; running this again replaces it.\n";
      return kExitOk;
    }
    if (verb == "create" && a_.positional.size() == 2) {
      json body = {{"name", a_.positional[1]},
                   {"description", Flag(a_, "--description")},
                   {"repo_url", Flag(a_, "--repo")}};
      if (a_.hosted) body["hosted"] = true;
      auto p = Call("POST", "/v1/projects", &body);
      if (!p) return exit_;
      if (MaybeJson(*p)) return kExitOk;
      out_ << "project " << Str((*p)["name"]) << " created\n";
      if (a_.hosted) {
        out_ << "clone it, or push to it (members with the researcher role; 'sluss auth "
                "setup-git' once makes git use your token):\n  git remote add sluss "
             << Str((*p)["push_url"]) << "\n  git push sluss main\n";
      }
      return kExitOk;
    }
    if (verb == "set" && a_.positional.size() == 2 && a_.flags.contains("--branches")) {
      json branches = json::array();
      std::string list = Flag(a_, "--branches");
      for (std::size_t i = 0; i <= list.size();) {
        std::size_t comma = list.find(',', i);
        if (comma == std::string::npos) comma = list.size();
        if (comma > i) branches.push_back(list.substr(i, comma - i));
        i = comma + 1;
      }
      json body = {{"branches", branches}};
      auto p = Call("PATCH", "/v1/projects/" + a_.positional[1], &body);
      if (!p) return exit_;
      if (MaybeJson(*p)) return kExitOk;
      out_ << "project " << Str((*p)["name"]) << " tracks "
           << ((*p)["branches"].empty() ? std::string("its default branch")
                                        : (*p)["branches"].dump())
           << ": a push to one makes a run\n";
      return kExitOk;
    }
    if (verb == "show" && a_.positional.size() == 2) {
      auto p = Call("GET", "/v1/projects/" + a_.positional[1]);
      if (!p) return exit_;
      auto m = Call("GET", "/v1/projects/" + a_.positional[1] + "/members");
      if (!m) return exit_;
      if (a_.json) {
        json out = *p;
        out["members"] = (*m)["members"];
        return MaybeJson(out), kExitOk;
      }
      out_ << "project:     " << Str((*p)["name"]) << "\n"
           << "description: " << Str((*p)["description"]) << "\n"
           << "repository:  " << Str((*p)["repo_url"]) << "\n";
      if (!Str((*p)["clone_url"]).empty())
        out_ << "clone URL:   " << Str((*p)["clone_url"]) << "   (git clone / git push)\n";
      out_ << "branches:    "
           << ((*p)["branches"].empty() ? std::string("the default branch")
                                        : (*p)["branches"].dump()) << "\n"
           << "created:     " << Ago((*p)["created_at"]) << "\n";
      if ((*p)["paused"].is_object()) {
        const json& s = (*p)["paused"];
        out_ << "PAUSED:      by " << Str(s["by"]) << " " << Ago(s["at"])
             << (Str(s["reason"]).empty() ? "" : ": " + Str(s["reason"])) << "\n";
      }
      if ((*p)["sync"].is_object()) {
        const json& s = (*p)["sync"];
        out_ << "last fetch:  " << (s.value("ok", false) ? "ok" : "FAILED") << ", "
             << Ago(s["at"]) << (s.value("ok", false) ? "" : ": " + Str(s["error"])) << "\n";
        if (s.value("failures", 0) > 0)
          out_ << "next try:    " << Str(s["next_try_at"]) << " (" << s.value("failures", 0)
               << " failed in a row; polls back off, a webhook or 'sluss run start' tries now)\n";
      }
      out_
           << "members:     " << ((*m)["members"].empty() ? std::string("-")
                                                          : (*m)["members"].dump()) << "\n"
           << "quota:       " << (*p)["quota"].dump() << "\n";
      return kExitOk;
    }
    return Usage(
        "project create NAME [--hosted] [--description D] [--repo URL] | project show NAME | "
        "project set NAME --branches main,dev | project pause NAME [--reason R] | "
        "project resume NAME");
  }

  int Projects() {
    auto p = Call("GET", "/v1/projects");
    if (!p) return exit_;
    if (MaybeJson(*p)) return kExitOk;
    Table t({"PROJECT", "DESCRIPTION", "CREATED"});
    for (const auto& x : (*p)["projects"]) {
      t.AddRow({Str(x["name"]), Str(x["description"]), Ago(x["created_at"])});
    }
    t.Print(out_);
    return kExitOk;
  }

  int Member() {
    if (a_.positional.size() != 3 || (a_.positional[0] != "add" && a_.positional[0] != "remove")) {
      return Usage("member add|remove PROJECT USER");
    }
    auto r = Call(a_.positional[0] == "add" ? "PUT" : "DELETE",
                  "/v1/projects/" + a_.positional[1] + "/members/" + a_.positional[2]);
    if (!r) return exit_;
    if (MaybeJson(*r)) return kExitOk;
    out_ << "members of " << a_.positional[1] << ": " << (*r)["members"].dump() << "\n";
    return kExitOk;
  }

  // quota set PROJECT max.gpus=8 per_job.max_time=24h max_running_jobs=none
  int Quota() {
    if (a_.positional.size() < 2) return Usage("quota get PROJECT | quota set PROJECT KEY=VALUE...");
    const std::string& verb = a_.positional[0];
    const std::string path = "/v1/projects/" + a_.positional[1] + "/quota";
    if (verb == "get" && a_.positional.size() == 2) {
      auto q = Call("GET", path);
      if (!q) return exit_;
      if (MaybeJson(*q)) return kExitOk;
      PrintQuota(*q);
      return kExitOk;
    }
    if (verb != "set" || a_.positional.size() < 3) {
      return Usage("quota get PROJECT | quota set PROJECT KEY=VALUE...");
    }
    auto q = Call("GET", path);
    if (!q) return exit_;
    for (std::size_t i = 2; i < a_.positional.size(); ++i) {
      const std::string& kv = a_.positional[i];
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) return Usage("quota set PROJECT KEY=VALUE... (e.g. max.gpus=8)");
      std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
      json v;
      if (value == "none" || value == "null" || value == "unlimited") {
        v = nullptr;
      } else {
        json parsed = json::parse(value, nullptr, false);
        v = (!parsed.is_discarded() && parsed.is_number()) ? parsed : json(value);
      }
      json* node = &*q;
      std::size_t start = 0;
      while (true) {
        auto dot = key.find('.', start);
        std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (dot == std::string::npos) {
          (*node)[part] = v;
          break;
        }
        if (!(*node)[part].is_object()) (*node)[part] = json::object();
        node = &(*node)[part];
        start = dot + 1;
      }
    }
    auto updated = Call("PUT", path, &*q);
    if (!updated) return exit_;
    if (MaybeJson(*updated)) return kExitOk;
    PrintQuota(*updated);
    return kExitOk;
  }

  void PrintQuota(const json& q) {
    Table t({"KEY", "VALUE"});
    std::function<void(const std::string&, const json&)> walk = [&](const std::string& prefix,
                                                                     const json& j) {
      for (auto it = j.begin(); it != j.end(); ++it) {
        std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
        if (it->is_object()) walk(key, *it);
        else t.AddRow({key, it->is_null() ? "unlimited" : Str(*it)});
      }
    };
    walk("", q);
    t.Print(out_);
  }

  // sluss usage PROJECT [--period day|week|month] [--at DAY] [--from DAY --until DAY]:
  // jobs by state now, and what the project's jobs used in the period, by
  // user and outcome.
  int UsageCmd() {
    if (a_.positional.size() != 1)
      return Usage("usage PROJECT [--period day|week|month] [--at DAY] [--from DAY] [--until DAY]");
    std::string query;
    for (const char* k : {"period", "at", "from", "until"})
      if (auto v = Flag(a_, StrCat("--", k)); !v.empty()) query += StrCat(query.empty() ? "?" : "&", k, "=", v);
    auto u = Call("GET", "/v1/projects/" + a_.positional[0] + "/usage" + query);
    if (!u) return exit_;
    if (MaybeJson(*u)) return kExitOk;
    Table t({"STATE", "JOBS"});
    for (auto it = (*u)["jobs"].begin(); it != (*u)["jobs"].end(); ++it) t.AddRow({it.key(), Str(*it)});
    t.Print(out_);
    const json& disk = (*u)["disk"];
    auto bytes = [](const json& v) {
      return v.is_number_integer() ? core::FormatBytes(v.get<std::int64_t>()) : std::string("-");
    };
    out_ << "\ndisk: " << bytes(disk["total_bytes"]) << " (outputs " << bytes(disk["outputs_bytes"])
         << ", workspaces of running jobs " << bytes(disk["workspaces_bytes"]) << "), limit "
         << (disk["max_bytes"].is_null() ? std::string("none") : bytes(disk["max_bytes"]) + " (max.disk)")
         << "\n";
    const json& a = (*u)["accounting"];
    out_ << "\njobs ended from " << Str(a["from"]) << " until " << Str(a["until"]) << " ("
         << Str(a["period"]) << "):\n";
    auto hours = [](const json& v) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2f", v.get<double>());
      return std::string(buf);
    };
    Table r({"USER", "STATUS", "JOBS", "CPU-H", "GPU-H", "WALL-H"});
    for (const auto& x : a["rows"])
      r.AddRow({Str(x["user"]), Str(x["status"]), Str(x["jobs"]), hours(x["cpu_hours"]),
                hours(x["gpu_hours"]), hours(x["wall_hours"])});
    const json& tot = a["totals"];
    r.AddRow({"total", "", Str(tot["jobs"]), hours(tot["cpu_hours"]), hours(tot["gpu_hours"]),
              hours(tot["wall_hours"])});
    r.Print(out_);
    return kExitOk;
  }

  int Token() {
    if (a_.positional.empty()) return Usage("token create|list|revoke");
    const std::string& verb = a_.positional[0];
    if (verb == "create") {
      json body = json::object();
      for (auto [flag, key] : {std::pair{"--user", "user"}, std::pair{"--role", "role"},
                               std::pair{"--name", "name"}, std::pair{"--expires", "expires_in"}}) {
        if (auto v = Flag(a_, flag); !v.empty()) body[key] = v;
      }
      auto t = Call("POST", "/v1/tokens", &body);
      if (!t) return exit_;
      if (MaybeJson(*t)) return kExitOk;
      err_ << "token " << Str((*t)["id"]) << " for " << Str((*t)["user"]) << " ("
           << Str((*t)["role"]) << "), expires " << Str((*t)["expires_at"])
           << ". It is shown once; store it now.\n";
      out_ << (*t)["token"].get<std::string>() << "\n";
      return kExitOk;
    }
    if (verb == "list") {
      auto t = Call("GET", "/v1/tokens");
      if (!t) return exit_;
      if (MaybeJson(*t)) return kExitOk;
      Table tab({"ID", "USER", "ROLE", "NAME", "EXPIRES", "REVOKED"});
      for (const auto& x : (*t)["tokens"]) {
        tab.AddRow({Str(x["id"]), Str(x["user"]), Str(x["role"]), Str(x["name"]),
                    Str(x["expires_at"]), Str(x["revoked_at"])});
      }
      tab.Print(out_);
      return kExitOk;
    }
    if (verb == "revoke" && a_.positional.size() == 2) {
      auto t = Call("DELETE", "/v1/tokens/" + a_.positional[1]);
      if (!t) return exit_;
      if (MaybeJson(*t)) return kExitOk;
      out_ << "token " << Str((*t)["id"]) << " revoked\n";
      return kExitOk;
    }
    return Usage("token create [--user U] [--role R] [--name N] [--expires 90d] | token list | token revoke ID");
  }

  // sluss logs JOB [-f] [--stderr] [--attempt N]: the job's output; with
  // -f, follows it until the job ends (slussd streams it: follow=1).
  int Logs() {
    if (a_.positional.size() != 1) {
      err_ << "usage: sluss logs JOB [-f] [--stderr] [--attempt N]\n";
      return kExitUsage;
    }
    const std::string job = a_.positional[0];
    const std::string stream = a_.stderr_stream ? "stderr" : "stdout";
    std::string attempt = Flag(a_, "--attempt");
    std::string path = StrCat("/v1/jobs/", job, "/logs?stream=", stream);
    // A log is the job's bytes: written as they are to a file or a pipe, but
    // to a terminal escaped (TerminalSafe), so that a job cannot retitle the
    // window, clear the screen or hide lines. A C1 control (0xc2, then 0x80-0x9f) may
    // be cut between two replies: a trailing 0xc2 waits for the next.
    std::string carry;
    auto print = [&](std::string_view data) {
      if (!client_.settings().terminal) {
        out_ << data << std::flush;
        return;
      }
      carry.append(data);
      const bool hold = !carry.empty() && static_cast<unsigned char>(carry.back()) == 0xc2;
      out_ << TerminalSafe(std::string_view(carry).substr(0, carry.size() - (hold ? 1 : 0)))
           << std::flush;
      carry = hold ? std::string("\xc2") : std::string();
    };
    auto flush = [&] {
      if (!carry.empty()) out_ << TerminalSafe(carry) << std::flush;
      carry.clear();
    };
    if (!attempt.empty()) path += "&attempt=" + attempt;
    if (!a_.follow) {
      // slussd answers up to 1 MiB at a time: read on from where each
      // reply ends (X-Sluss-Next-Offset) until the log has no more.
      std::int64_t offset = 0;
      for (;;) {
        auto reply = CallRaw("GET", StrCat(path, "&offset=", offset));
        if (!reply) return exit_;
        print(reply->text);
        auto next = reply->headers.find("x-sluss-next-offset");
        if (reply->text.empty() || next == reply->headers.end()) break;
        const std::int64_t n = std::strtoll(next->second.c_str(), nullptr, 10);
        if (n <= offset) break;
        offset = n;
      }
      flush();
      return kExitOk;
    }
    // Followed: slussd streams the log as it grows and ends the reply when
    // the job ends; the exit code is then the job's outcome.
    auto reply = CallRaw("GET", path + "&follow=1", nullptr,
                         [&](std::string_view data) { print(data); });
    flush();
    if (!reply) return exit_;
    auto j = Call("GET", StrCat("/v1/jobs/", job));
    if (!j) return exit_;
    return Str((*j)["state"]) == "succeeded" ? kExitOk : kExitError;
  }

  int Whoami() {
    auto w = Call("GET", "/v1/whoami");
    if (!w) return exit_;
    if (MaybeJson(*w)) return kExitOk;
    out_ << Str((*w)["user"]) << " (" << Str((*w)["role"]) << "), projects: "
         << ((*w)["projects"].empty() ? std::string("none") : (*w)["projects"].dump()) << "\n";
    return kExitOk;
  }

};

const std::vector<std::string> kCommands = {"status", "runs",    "run",     "job",   "cancel",
                                            "retry",  "hold",    "release", "project", "projects",
                                            "member", "quota",   "usage",   "nodes", "images",
                                            "token",  "whoami",  "drain",   "resume", "queue", "logs",
                                            "image", "dataset", "datasets", "permit", "permits",
                                            "provenance", "outputs", "audit", "auth", "review"};

}  // namespace

bool IsServerCommand(const std::string& command) {
  return std::find(kCommands.begin(), kCommands.end(), command) != kCommands.end();
}

int RunServerCommand(const std::string& command, std::vector<std::string> words,
                     std::ostream& out, std::ostream& err) {
  auto args = Parse(words, err);
  if (!args) return kExitUsage;
  auto settings = LoadSettings(Flag(*args, "--server"), Flag(*args, "--token"));
  if (!settings) {
    err << "sluss: " << settings.error().message << "\n";
    return kExitError;
  }
  settings->json = args->json;
  if (command == "auth") return RunAuthCommand(*args, *settings, out, err);
  if (command == "review" || (command == "release" && IsReleaseSubcommand(words)))
    return RunReleaseCommand(command, *args, Client(*settings), out, err);
  if (command == "nodes" || command == "drain" || command == "resume" || command == "queue" ||
      command == "images" || command == "image")
    return RunClusterCommand(command, *args, Client(*settings), out, err);
  Runner r(Client(*settings), *args, out, err);
  if (command == "status") return r.Status();
  if (command == "runs") return r.Runs();
  if (command == "run") return r.RunCmd();
  if (command == "job") return r.JobCmd();
  if (command == "cancel" || command == "retry" || command == "hold" || command == "release") {
    return r.JobAction(command);
  }
  if (command == "project") return r.Project();
  if (command == "projects") return r.Projects();
  if (command == "member") return r.Member();
  if (command == "quota") return r.Quota();
  if (command == "usage") return r.UsageCmd();
  if (command == "token") return r.Token();
  if (command == "whoami") return r.Whoami();
  if (command == "logs") return r.Logs();
  if (command == "dataset" || command == "datasets" || command == "permit" ||
      command == "permits" || command == "provenance" || command == "outputs" ||
      command == "audit")
    return RunDataCommand(command, *args, Client(*settings), out, err);
  return kExitUsage;
}

}  // namespace sluss::cli
