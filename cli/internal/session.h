#pragma once

// What every sluss server command shares: its parsed arguments, the API
// client, and how an API error becomes a message and an exit code.

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "cli/commands.h"
#include "core/strings.h"
#include "core/time.h"

namespace sluss::cli {

using core::StrCat;
using nlohmann::json;

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;  // --name value
  bool json = false;
  bool hosted = false;
  bool force = false;
  bool follow = false;  // -f / --follow
  bool wait = false;    // --wait
  bool stderr_stream = false;  // --stderr
  bool all = false;   // --all: every job, not a summary
  bool jobs = false;  // --jobs: a run's whole list of jobs
};

// Flags that take a value; anything else starting with -- is a switch.
inline const std::vector<std::string> kValueFlags = {"--server", "--token",   "--project", "--state",
                                              "--limit",  "--user",    "--role",    "--name",
                                              "--expires", "--description", "--repo", "--reason",
                                              "--ref", "--commit", "--actions", "--attempt",
                                              "--datasets", "--persons", "--purpose", "--from",
                                              "--until", "--after", "--public-key", "--db",
                                              "--output", "--job", "--period", "--at",
                                              "--ecosystem", "--branches", "--context",
                                              "--controls", "--exception", "--group",
                                              "--approve", "--request-changes", "--comment",
                                              "--min-count", "--round", "--zeros", "--max-size",
                                              "--types", "--log"};
// Switches of `sluss review` (kept in Args::flags with the value "1").
inline const std::vector<std::string> kReviewSwitches = {"--submit", "--return", "--reject",
                                                         "--release"};

inline std::optional<Args> Parse(const std::vector<std::string>& words, std::ostream& err) {
  Args a;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "--json") {
      a.json = true;
    } else if (w == "--hosted") {
      a.hosted = true;
    } else if (w == "--force") {
      a.force = true;
    } else if (w == "-f" || w == "--follow") {
      a.follow = true;
    } else if (w == "--stderr") {
      a.stderr_stream = true;
    } else if (w == "--wait") {
      a.wait = true;
    } else if (w == "--all") {
      a.all = true;
    } else if (w == "--jobs") {
      a.jobs = true;
    } else if (std::find(kReviewSwitches.begin(), kReviewSwitches.end(), w) !=
               kReviewSwitches.end()) {
      a.flags[w] = "1";
    } else if (w == "-o" && i + 1 < words.size()) {
      a.flags["--output"] = words[++i];
    } else if (w.starts_with("--")) {
      auto eq = w.find('=');
      std::string name = w.substr(0, eq);
      if (std::find(kValueFlags.begin(), kValueFlags.end(), name) == kValueFlags.end()) {
        err << "sluss: unknown option " << name << "\n";
        return std::nullopt;
      }
      if (eq != std::string::npos) {
        a.flags[name] = w.substr(eq + 1);
      } else if (i + 1 < words.size()) {
        a.flags[name] = words[++i];
      } else {
        err << "sluss: " << name << " needs a value\n";
        return std::nullopt;
      }
    } else {
      a.positional.push_back(w);
    }
  }
  return a;
}

inline std::string Flag(const Args& a, const std::string& name, std::string def = "") {
  auto it = a.flags.find(name);
  return it == a.flags.end() ? def : it->second;
}

// `text` safe to print to a terminal: control characters that could move
// the cursor, retitle the window or hide what follows (ESC, CSI and OSC
// sequences, BEL, CR, DEL, the C1 controls) are shown escaped ("\x1b");
// newlines and tabs stay. Every string that came from a user or a commit
// goes through it (Str does it).
inline std::string TerminalSafe(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool c1 = c == 0xc2 && i + 1 < text.size() &&
                    static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(text[i + 1]) <= 0x9f;
    if (c1) {
      const auto d = static_cast<unsigned char>(text[++i]);
      out += "\\u00";
      out += kHex[d >> 4];
      out += kHex[d & 15];
    } else if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

inline std::string Str(const json& j) {
  if (j.is_null()) return "-";
  if (j.is_string()) return j.get<std::string>().empty() ? "-" : TerminalSafe(j.get<std::string>());
  return TerminalSafe(j.dump());
}

inline std::string Ago(const json& t) {
  if (!t.is_string()) return "-";
  auto tp = core::ParseRfc3339(t.get<std::string>());
  if (!tp) return t.get<std::string>();
  auto s = std::chrono::duration_cast<std::chrono::seconds>(core::SystemClock().Now() - *tp).count();
  if (s < 5) return "just now";
  if (s < 60) return StrCat(s, "s ago");
  if (s < 3600) return StrCat(s / 60, "m ago");
  if (s < 86400) return StrCat(s / 3600, "h ago");
  return StrCat(s / 86400, "d ago");
}

class Session {
 public:
  Session(Client client, Args args, std::ostream& out, std::ostream& err)
      : client_(std::move(client)), a_(std::move(args)), out_(out), err_(err) {}

  // Calls the API; on an HTTP error prints it and returns nullopt with the
  // exit code set.
  std::optional<json> Call(std::string_view method, std::string_view path,
                           const json* body = nullptr) {
    auto reply = CallRaw(method, path, body);
    if (!reply) return std::nullopt;
    return reply->body;
  }

  // The same, keeping the reply's text and headers.
  std::optional<ApiReply> CallRaw(std::string_view method, std::string_view path,
                                  const json* body = nullptr,
                                  const std::function<void(std::string_view)>& stream = {}) {
    auto reply = client_.Call(method, path, body, stream);
    if (!reply) {
      err_ << "sluss: " << reply.error().message << "\n";
      exit_ = kExitError;
      return std::nullopt;
    }
    if (reply->status >= 200 && reply->status < 300) return *reply;
    std::string message = StrCat("HTTP ", reply->status);
    if (reply->body.is_object() && reply->body.contains("error")) {
      const json& e = reply->body["error"];
      message = e.value("message", message);
      std::string field = e.contains("details") && e["details"].contains("field")
                              ? e["details"]["field"].get<std::string>()
                              : "";
      if (!field.empty() && !message.starts_with(field)) message = StrCat(field, ": ", message);
    }
    err_ << "sluss: " << message << "\n";
    if (reply->status == 401) {
      err_ << "  Give a token with --token, SLUSS_TOKEN or ~/.config/sluss/config; an admin "
              "makes one with 'sluss token create'.\n";
      exit_ = kExitDenied;
    } else if (reply->status == 403) {
      exit_ = kExitDenied;
    } else if (reply->status == 404) {
      exit_ = kExitNotFound;
    } else {
      exit_ = kExitError;
    }
    return std::nullopt;
  }

  // Prints `j` as JSON when --json was given. True when it did.
  bool MaybeJson(const json& j) {
    if (!a_.json) return false;
    out_ << j.dump(2) << "\n";
    return true;
  }

  std::string Color(const std::string& state) const {
    if (!client_.settings().color) return state;
    const char* c = state == "succeeded" ? "32" : state == "failed" ? "31"
                  : state == "running" ? "34" : state == "cancelled" ? "33" : "0";
    return StrCat("\033[", c, "m", state, "\033[0m");
  }

  int Usage(std::string_view text) {
    err_ << "usage: sluss " << text << "\n";
    return kExitUsage;
  }

 protected:
  Client client_;
  Args a_;
  std::ostream& out_;
  std::ostream& err_;
  int exit_ = kExitOk;
};

// sluss auth setup-git | git-credential (git_commands.cc).
int RunAuthCommand(const Args& args, const Settings& settings, std::ostream& out,
                   std::ostream& err);

// sluss release (the airlock's subcommands) and sluss review
// (release_commands.cc). IsReleaseSubcommand: the words start with one of
// them (else `sluss release JOB` releases a held job).
bool IsReleaseSubcommand(const std::vector<std::string>& words);
int RunReleaseCommand(const std::string& command, const Args& args, Client client,
                      std::ostream& out, std::ostream& err);

// The nodes, drain, resume, queue, images and image commands
// (cluster_commands.cc).
int RunClusterCommand(const std::string& command, const Args& args, Client client,
                      std::ostream& out, std::ostream& err);

// The dataset, permit, provenance and audit commands (data_commands.cc).
int RunDataCommand(const std::string& command, const Args& args, Client client,
                   std::ostream& out, std::ostream& err);

}  // namespace sluss::cli
