#include "core/pipeline.h"

#include <algorithm>
#include <functional>
#include <map>
#include <queue>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/internal/pipeline_names.h"
#include "core/quantity.h"
#include "core/strings.h"
#include "core/yaml.h"

namespace sluss::core {
namespace {

constexpr std::string_view kTopKeys[] = {"version", "actions"};
constexpr std::string_view kActionKeys[] = {
    "image", "run", "needs", "datasets", "resources",
    "outputs", "code", "retries", "env", "priority"};
constexpr std::string_view kResourceKeys[] = {"gpus", "cpus", "memory", "time",
                                              "disk"};
constexpr std::string_view kOutputKeys[] = {"sensitive", "releasable"};
constexpr std::string_view kControlKeys[] = {"path", "counts", "round", "zeros"};
constexpr long long kMaxRound = 1000;
constexpr std::string_view kRetryKeys[] = {"max", "on"};
constexpr std::size_t kMaxDiagnostics = 100;
constexpr std::size_t kMaxRunLength = 8192;
constexpr std::size_t kMaxPathLength = 1024;

using internal::IsActionName;
using internal::IsDatasetName;
using internal::IsEnvName;
using internal::IsImageName;
using internal::IsVersionName;

std::vector<std::string_view> SplitPath(std::string_view p) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = p.find('/', start);
    parts.push_back(p.substr(start, slash == std::string_view::npos
                                        ? std::string_view::npos
                                        : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

std::string ToUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

class PipelineChecker {
 public:
  explicit PipelineChecker(std::string_view file) : c_(std::string(file)) {}

  PipelineResult Check(std::string_view text) {
    if (text.size() > kMaxPipelineBytes) {
      c_.Report({1, 1}, "",
                StrCat("the file is ", text.size(),
                       " bytes; the limit is 1 MiB (", kMaxPipelineBytes,
                       " bytes)"));
      return std::unexpected(c_.TakeSorted());
    }
    auto root = ParseYaml(text);
    if (!root) {
      if (auto tab = IndentTab(text)) {
        c_.Report(*tab, "",
                  "a tab in the indentation; YAML indents with spaces only");
      } else {
        c_.Report(root.error().pos, "", root.error().message);
      }
      return std::unexpected(c_.TakeSorted());
    }
    Pipeline p = Top(*root);
    if (!c_.diagnostics().empty()) return std::unexpected(Finish());
    return p;
  }

 private:
  Diagnostics Finish() {
    Diagnostics d = c_.TakeSorted();
    if (d.size() > kMaxDiagnostics) {
      std::size_t more = d.size() - kMaxDiagnostics;
      d.resize(kMaxDiagnostics);
      d.push_back(Diagnostic{c_.file(), d.back().pos,
                             StrCat("... and ", more, " more errors")});
    }
    return d;
  }

  Pipeline Top(const YamlNode& root) {
    Pipeline p;
    if (root.IsNull()) {
      c_.Report(root.pos, "",
                "the file is empty; it needs 'version: 1' and 'actions'");
      return p;
    }
    if (!root.IsMap()) {
      c_.Report(root.pos, "",
                StrCat("expected a mapping with 'version' and 'actions', got ",
                       root.KindName()));
      return p;
    }
    auto fields = c_.Fields(root, "", kTopKeys);
    if (auto it = fields.find("version"); it != fields.end()) {
      const YamlNode& v = *it->second;
      if (v.IsScalar() && v.value == "1") {
        p.version = 1;
      } else if (v.IsScalar() && !v.value.empty() &&
                 std::all_of(v.value.begin(), v.value.end(),
                             [](char c) { return c >= '0' && c <= '9'; })) {
        c_.Report(v.pos, "version",
                  StrCat("version ", v.value,
                         " is not supported; this sluss reads version 1"));
      } else {
        c_.Report(v.pos, "version",
                  StrCat("expected 1, got ",
                         v.IsScalar() ? Quote(v.value)
                                      : std::string(v.KindName())));
      }
    } else {
      c_.Report(root.pos, "",
                "missing 'version' (add 'version: 1' at the top)");
    }
    auto it = fields.find("actions");
    if (it == fields.end()) {
      c_.Report(root.pos, "", "missing 'actions' (the steps to run)");
      return p;
    }
    Actions(*it->second, YamlChecker::KeyPosition(root, it->second), &p);
    return p;
  }

  // The first tab in a line's leading whitespace, if any.
  static std::optional<Position> IndentTab(std::string_view text) {
    int line = 1;
    bool leading = true;
    int col = 1;
    for (char ch : text) {
      if (ch == '\n') {
        ++line;
        col = 1;
        leading = true;
        continue;
      }
      if (leading && ch == '\t') return Position{line, col};
      if (ch != ' ') leading = false;
      ++col;
    }
    return std::nullopt;
  }

  void Actions(const YamlNode& node, Position key_pos, Pipeline* p) {
    if (node.IsNull() || (node.IsMap() && node.entries.empty())) {
      c_.Report(node.IsNull() ? key_pos : node.pos, "actions",
                "the pipeline has no actions; add at least one");
      return;
    }
    auto entries = c_.Entries(node, "actions", "action names to actions");
    // Each action's key, by its value: a look-up per action (a search of
    // every entry for each made a 20,000-action file take seconds).
    std::unordered_map<const YamlNode*, const YamlNode*> key_of;
    key_of.reserve(node.entries.size());
    for (const auto& [key, value] : node.entries) key_of.emplace(&value, &key);
    std::vector<const YamlNode*> name_nodes;
    for (const auto& [name, v] : entries) name_nodes.push_back(key_of.at(v));
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& [name, value] = entries[i];
      Action a;
      a.name = name;
      a.pos = name_nodes[i]->pos;
      std::string path = JoinPath("actions", name);
      if (!IsActionName(name)) {
        c_.Report(a.pos, "actions",
                  StrCat("action name ", Quote(name),
                         " must start with a letter or digit and hold only "
                         "letters, digits, '_' and '-' (at most 64)"));
      }
      if (value->IsNull()) {
        c_.Report(a.pos, path,
                  "the action is empty; it needs at least 'image' and 'run'");
        p->actions.push_back(std::move(a));
        continue;
      }
      OneAction(*value, path, &a);
      p->actions.push_back(std::move(a));
    }
    CheckNeeds(node, p);
    CheckOutputsUnique(*p);
  }

  void OneAction(const YamlNode& node, const std::string& path, Action* a) {
    auto f = c_.Fields(node, path, kActionKeys);
    if (!node.IsMap()) return;
    if (auto it = f.find("image"); it != f.end()) {
      a->image_pos = it->second->pos;
      if (auto s = c_.String(*it->second, JoinPath(path, "image"))) {
        if (!IsImageName(*s)) {
          c_.Report(it->second->pos, JoinPath(path, "image"),
                    StrCat("image name ", Quote(*s),
                           " must hold only letters, digits, '.', '_', '-' "
                           "and ':' (ask an admin for the approved names)"));
        }
        a->image = *s;
      }
    } else {
      c_.Report(a->pos, path,
                "missing 'image' (the approved image to run in, e.g. "
                "python-3.11)");
    }
    if (auto it = f.find("run"); it != f.end()) {
      Run(*it->second, JoinPath(path, "run"), a);
    } else {
      c_.Report(a->pos, path,
                "missing 'run' (the command, e.g. python analysis/extract.py)");
    }
    if (auto it = f.find("needs"); it != f.end()) {
      if (auto list = c_.StringList(*it->second, JoinPath(path, "needs"),
                                    "action names")) {
        std::set<std::string> seen;
        for (auto& [name, pos] : *list) {
          if (!seen.insert(name).second) {
            c_.Report(pos, JoinPath(path, "needs"),
                      StrCat("lists ", Quote(name), " twice"));
            continue;
          }
          a->needs.push_back(name);
          needs_pos_[a->name].push_back(pos);
        }
      }
    }
    if (auto it = f.find("datasets"); it != f.end()) {
      Datasets(*it->second, JoinPath(path, "datasets"), a);
    }
    if (auto it = f.find("resources"); it != f.end()) {
      Resources(*it->second, JoinPath(path, "resources"), a);
    }
    if (auto it = f.find("outputs"); it != f.end()) {
      OutputLists(*it->second, JoinPath(path, "outputs"), a);
    }
    if (auto it = f.find("code"); it != f.end()) {
      std::string cpath = JoinPath(path, "code");
      if (auto list = c_.StringList(*it->second, cpath, "file globs")) {
        for (auto& [glob, pos] : *list) {
          if (CheckPath(glob, pos, cpath, /*output=*/false)) {
            a->code.push_back(glob);
          }
        }
      }
    }
    if (auto it = f.find("retries"); it != f.end()) {
      Retries(*it->second, JoinPath(path, "retries"), a);
    }
    if (auto it = f.find("env"); it != f.end()) {
      Env(*it->second, JoinPath(path, "env"), a);
    }
    if (auto it = f.find("priority"); it != f.end()) {
      if (auto v = c_.Integer(*it->second, JoinPath(path, "priority"), -kMaxPriority,
                              kMaxPriority)) {
        a->priority = static_cast<int>(*v);
      }
    }
  }

  void Run(const YamlNode& node, const std::string& path, Action* a) {
    auto s = c_.String(node, path);
    if (!s) return;
    if (s->find_first_not_of(" \t\r\n") == std::string::npos) {
      c_.Report(node.pos, path, "the command is empty");
      return;
    }
    if (s->size() > kMaxRunLength) {
      c_.Report(node.pos, path,
                StrCat("the command is ", s->size(),
                       " characters; the limit is ", kMaxRunLength,
                       " (put long logic in a script)"));
      return;
    }
    auto argv = SplitCommand(*s);
    if (!argv) {
      c_.Report(node.pos, path, argv.error().message);
      return;
    }
    a->run = *s;
    a->argv = std::move(*argv);
  }

  void Datasets(const YamlNode& node, const std::string& path, Action* a) {
    auto list = c_.StringList(node, path, "dataset names");
    if (!list) return;
    std::set<std::string> seen;
    for (auto& [text, pos] : *list) {
      DatasetRef ref;
      auto at = text.find('@');
      ref.name = text.substr(0, at);
      if (at != std::string::npos) ref.version = text.substr(at + 1);
      if (!IsDatasetName(ref.name) ||
          (at != std::string::npos && !IsVersionName(ref.version))) {
        c_.Report(pos, path,
                  StrCat("dataset ", Quote(text),
                         " must be a name of lower-case letters, digits, '_' "
                         "and '-', optionally pinned as name@version"));
        continue;
      }
      if (!seen.insert(ref.name).second) {
        c_.Report(pos, path, StrCat("lists dataset ", Quote(ref.name), " twice"));
        continue;
      }
      a->datasets.push_back(ref);
      a->dataset_pos.push_back(pos);
    }
  }

  // Parses a scalar quantity with `parse`, reporting its error at the node.
  template <typename T>
  std::optional<T> Quantity(const YamlNode& node, const std::string& path,
                            const std::function<Result<T>(std::string_view)>& parse) {
    if (!node.IsScalar()) {
      c_.Report(node.pos, path,
                StrCat("expected a single value, got ", node.KindName()));
      return std::nullopt;
    }
    auto v = parse(node.value);
    if (!v) {
      c_.Report(node.pos, path, v.error().message);
      return std::nullopt;
    }
    return *v;
  }

  void Resources(const YamlNode& node, const std::string& path, Action* a) {
    auto f = c_.Fields(node, path, kResourceKeys);
    ResourceRequest& r = a->resources;
    if (auto it = f.find("gpus"); it != f.end()) {
      if (auto v = c_.Integer(*it->second, JoinPath(path, "gpus"), 0, 64)) {
        r.gpus = static_cast<int>(*v);
      }
    }
    if (auto it = f.find("cpus"); it != f.end()) {
      std::string p = JoinPath(path, "cpus");
      if (auto v = Quantity<std::int64_t>(*it->second, p, ParseMilliCpus)) {
        if (*v == 0) {
          c_.Report(it->second->pos, p, "must be more than 0");
        } else if (*v < kMinMilliCpus) {
          // The kernel's smallest CPU quota is 1 ms in each 100 ms.
          c_.Report(it->second->pos, p,
                    StrCat("cpus ", Quote(it->second->value), " is less than the smallest share, ",
                           kMinMilliCpus, "m"));
        } else {
          r.milli_cpus = *v;
        }
      }
    }
    if (auto it = f.find("memory"); it != f.end()) {
      std::string p = JoinPath(path, "memory");
      if (auto v = Quantity<std::int64_t>(*it->second, p, ParseBytes)) {
        if (*v < (1 << 20)) {
          c_.Report(it->second->pos, p,
                    StrCat("memory ", Quote(it->second->value),
                           " is less than 1M; did you forget the unit "
                           "(e.g. 16G)?"));
        } else if (*v < kMinMemoryBytes) {
          // The container's own start needs some: below this a job dies
          // before it runs.
          c_.Report(it->second->pos, p,
                    StrCat("memory ", Quote(it->second->value),
                           " is less than a job needs to start; the least is 16M"));
        } else {
          r.memory_bytes = *v;
        }
      }
    }
    if (auto it = f.find("time"); it != f.end()) {
      std::string p = JoinPath(path, "time");
      if (auto v = Quantity<std::chrono::seconds>(*it->second, p,
                                                  ParseDuration)) {
        if (v->count() == 0) {
          c_.Report(it->second->pos, p, "must be more than 0s");
        } else {
          r.time_limit = *v;
        }
      }
    }
    if (auto it = f.find("disk"); it != f.end()) {
      std::string p = JoinPath(path, "disk");
      if (auto v = Quantity<std::int64_t>(*it->second, p, ParseBytes)) {
        if (*v == 0) {
          c_.Report(it->second->pos, p, "must be more than 0");
        } else if (*v < kMinDiskBytes) {
          // The output file system's own structures need some.
          c_.Report(it->second->pos, p,
                    StrCat("disk ", Quote(it->second->value), " is too small for a file system; "
                                                              "the least is 1M"));
        } else {
          r.disk_bytes = *v;
        }
      }
    }
  }

  void OutputLists(const YamlNode& node, const std::string& path, Action* a) {
    auto f = c_.Fields(node, path, kOutputKeys);
    if (node.IsMap() && node.entries.empty()) {
      c_.Report(node.pos, path, "is empty; list 'sensitive' or 'releasable' files");
    }
    for (auto [key, list] :
         {std::pair{"sensitive", &a->outputs.sensitive},
          std::pair{"releasable", &a->outputs.releasable}}) {
      auto it = f.find(key);
      if (it == f.end()) continue;
      std::string p = JoinPath(path, key);
      auto items = list == &a->outputs.releasable
                       ? ReleasableList(*it->second, p, &a->outputs.controls)
                       : c_.StringList(*it->second, p, "paths under output/");
      if (!items) continue;
      for (auto& [glob, pos] : *items) {
        if (!CheckPath(glob, pos, p, /*output=*/true)) continue;
        list->push_back(glob);
        output_pos_.push_back({glob, a->name, pos, p});
      }
    }
  }

  // `releasable`: a list whose items are a path, or a mapping of a path and
  // what the disclosure checks should know about it:
  //   - path: output/table1.csv
  //     counts: [n]        # columns holding counts of persons
  //     round: 5           # those counts are multiples of 5
  //     zeros: allowed     # or disclosive (the default)
  std::optional<std::vector<std::pair<std::string, Position>>> ReleasableList(
      const YamlNode& node, const std::string& path,
      std::map<std::string, OutputControls>* controls) {
    if (!node.IsSequence()) return c_.StringList(node, path, "paths under output/");
    std::vector<std::pair<std::string, Position>> out;
    for (std::size_t i = 0; i < node.items.size(); ++i) {
      const YamlNode& item = node.items[i];
      if (!item.IsMap()) {
        if (auto s = c_.String(item, StrCat(path, "[", i, "]"))) out.emplace_back(*s, item.pos);
        continue;
      }
      auto f = c_.Fields(item, StrCat(path, "[", i, "]"), kControlKeys);
      auto pit = f.find("path");
      if (pit == f.end()) {
        c_.Report(item.pos, StrCat(path, "[", i, "]"),
                  "names no path; write 'path: output/<file>' beside counts and round");
        continue;
      }
      std::string where = StrCat(path, "[", i, "]");
      auto glob = c_.String(*pit->second, JoinPath(where, "path"));
      if (!glob) continue;
      OutputControls oc;
      if (auto it = f.find("counts"); it != f.end()) {
        std::string cp = JoinPath(where, "counts");
        if (auto cols = c_.StringList(*it->second, cp, "column names")) {
          for (auto& [col, pos] : *cols) {
            if (col.empty()) {
              c_.Report(pos, cp, "has an empty column name");
            } else if (std::find(oc.counts.begin(), oc.counts.end(), col) != oc.counts.end()) {
              c_.Report(pos, cp, StrCat("names column ", Quote(col), " twice"));
            } else {
              oc.counts.push_back(col);
            }
          }
        }
      }
      if (auto it = f.find("round"); it != f.end()) {
        if (auto r = c_.Integer(*it->second, JoinPath(where, "round"), 1, kMaxRound)) {
          oc.round = static_cast<int>(*r);
        }
      }
      if (auto it = f.find("zeros"); it != f.end()) {
        if (auto z = c_.String(*it->second, JoinPath(where, "zeros"))) {
          if (*z == "disclosive") {
            oc.zeros_disclosive = true;
          } else if (*z == "allowed") {
            oc.zeros_disclosive = false;
          } else {
            c_.Report(it->second->pos, JoinPath(where, "zeros"),
                      StrCat("is ", Quote(*z), "; write disclosive (the default) or allowed "
                             "(zeros that are structural, such as an empty age band)"));
          }
        }
      }
      if ((oc.round > 0 || oc.zeros_disclosive) && oc.counts.empty() && !f.count("counts")) {
        c_.Report(item.pos, where, "declares round or zeros but no counts; name the count columns "
                                   "they apply to");
      }
      if (!oc.counts.empty() || oc.round > 0 || oc.zeros_disclosive) (*controls)[*glob] = oc;
      out.emplace_back(*glob, pit->second->pos);
    }
    return out;
  }

  // Paths and globs: relative, normalised, inside the job's tree. Returns
  // false (after reporting) when refused.
  bool CheckPath(const std::string& glob, Position pos, const std::string& path,
                 bool output) {
    auto bad = [&](std::string_view why) {
      c_.Report(pos, path, StrCat(Quote(glob), " ", why));
      return false;
    };
    if (glob.empty()) return bad("is empty");
    if (glob.size() > kMaxPathLength) return bad("is too long");
    for (char ch : glob) {
      auto u = static_cast<unsigned char>(ch);
      if (u < 0x20 || u == 0x7f) return bad("holds a control character");
      if (ch == '\\') return bad("holds a '\\'; separate directories with '/'");
    }
    if (glob.front() == '/') {
      return bad(output ? "is absolute; write it relative, under output/"
                        : "is absolute; write it relative to the repository root");
    }
    if (glob.front() == '~') return bad("starts with '~'; write a relative path");
    auto parts = SplitPath(glob);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      std::string_view part = parts[i];
      if (part == "..") return bad("must not contain '..'");
      if (part == ".") return bad("must not contain '.' components");
      if (part.empty()) {
        return bad(i + 1 == parts.size() ? "must not end with '/'"
                                         : "must not contain '//'");
      }
      if (part.find("**") != std::string_view::npos && part != "**") {
        return bad("uses '**' inside a name; '**' must be a whole path part");
      }
      // Brackets must close within the same part.
      for (std::size_t k = 0; k < part.size(); ++k) {
        if (part[k] == '[') {
          std::size_t close = part.find(']', k + 1);
          if (close == std::string_view::npos) {
            return bad("has a '[' without a closing ']'");
          }
          k = close;
        }
      }
    }
    if (output) {
      if (parts[0] != "output") {
        return bad("is not under output/; outputs must be written there");
      }
      if (parts.size() < 2) {
        return bad("names the whole output/ directory; name files, e.g. "
                   "output/table.csv or output/*.csv");
      }
    }
    return true;
  }

  void Retries(const YamlNode& node, const std::string& path, Action* a) {
    if (node.IsScalar()) {
      if (auto v = c_.Integer(node, path, 0, kMaxRetries)) {
        a->retries.max = static_cast<int>(*v);
      }
      return;
    }
    auto f = c_.Fields(node, path, kRetryKeys);
    if (!node.IsMap()) return;
    if (auto it = f.find("max"); it != f.end()) {
      if (auto v = c_.Integer(*it->second, JoinPath(path, "max"), 0,
                              kMaxRetries)) {
        a->retries.max = static_cast<int>(*v);
      }
    } else {
      c_.Report(node.pos, path, "missing 'max' (how many more attempts)");
    }
    if (auto it = f.find("on"); it != f.end()) {
      std::string p = JoinPath(path, "on");
      if (auto list = c_.StringList(*it->second, p, "failure codes")) {
        a->retries.on.clear();
        for (auto& [name, pos] : *list) {
          auto code = ParseStatusCode(name);
          if (!code || (*code != StatusCode::kNonzeroExit &&
                        *code != StatusCode::kOomKilled &&
                        *code != StatusCode::kNodeLost &&
                        *code != StatusCode::kTimedOut)) {
            c_.Report(pos, p,
                      StrCat(Quote(name),
                             " cannot be retried; use nonzero_exit, "
                             "oom_killed, timed_out or node_lost"));
            continue;
          }
          if (std::find(a->retries.on.begin(), a->retries.on.end(), *code) ==
              a->retries.on.end()) {
            a->retries.on.push_back(*code);
          }
        }
      }
    }
  }

  void Env(const YamlNode& node, const std::string& path, Action* a) {
    auto entries = c_.Entries(node, path, "variable names to values");
    for (auto& [name, value] : entries) {
      std::string p = JoinPath(path, name);
      Position pos = YamlChecker::KeyPosition(node, value);
      if (!IsEnvName(name)) {
        c_.Report(pos, path,
                  StrCat(Quote(name),
                         " is not a valid variable name (letters, digits and "
                         "'_', not starting with a digit)"));
        continue;
      }
      std::string upper = ToUpper(name);
      if (upper.starts_with("SLUSS_") || upper == "CUDA_VISIBLE_DEVICES" ||
          upper == "NVIDIA_VISIBLE_DEVICES" ||
          upper == "NVIDIA_DRIVER_CAPABILITIES") {
        c_.Report(pos, p, "is set by sluss and cannot be overridden");
        continue;
      }
      for (std::string_view word :
           {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY",
            "PRIVATE_KEY", "CREDENTIAL"}) {
        if (upper.find(word) != std::string::npos) {
          c_.Report(pos, p,
                    "looks like a secret; env values are recorded in "
                    "provenance and shown to every project member, and jobs "
                    "have no network, so they need no credentials");
          goto next;
        }
      }
      if (!value->IsScalar()) {
        c_.Report(value->pos, p,
                  StrCat("expected a plain value, got ", value->KindName()));
        continue;
      }
      if (value->value.size() > 4096) {
        c_.Report(value->pos, p, "the value is longer than 4096 characters");
        continue;
      }
      a->env.emplace_back(name, value->value);
    next:;
    }
    std::sort(a->env.begin(), a->env.end());
  }

  void CheckNeeds(const YamlNode& /*actions*/, Pipeline* p) {
    std::unordered_map<std::string, std::size_t> index;
    std::vector<std::string_view> names;
    for (std::size_t i = 0; i < p->actions.size(); ++i) {
      index.emplace(p->actions[i].name, i);
      names.push_back(p->actions[i].name);
    }
    // Edges i -> j when action i needs action j (valid names only).
    std::vector<std::vector<std::size_t>> edges(p->actions.size());
    for (std::size_t i = 0; i < p->actions.size(); ++i) {
      Action& a = p->actions[i];
      const auto& positions = needs_pos_[a.name];
      std::string path = JoinPath(JoinPath("actions", a.name), "needs");
      for (std::size_t k = 0; k < a.needs.size(); ++k) {
        const std::string& need = a.needs[k];
        Position pos = k < positions.size() ? positions[k] : a.pos;
        if (need == a.name) {
          c_.Report(pos, path, "an action cannot need itself");
          continue;
        }
        auto it = index.find(need);
        if (it == index.end()) {
          std::string hint = ClosestMatch(need, names);
          c_.Report(pos, path,
                    StrCat("no action named ", Quote(need),
                           hint.empty() ? std::string()
                                        : StrCat(" (did you mean '", hint, "'?)")));
          continue;
        }
        edges[i].push_back(it->second);
      }
    }
    // Cycles: depth-first search; a back edge closes a cycle, which is named
    // whole from the stack. Each action is reported in at most one cycle.
    enum Color { kWhite, kGrey, kBlack };
    std::vector<Color> color(p->actions.size(), kWhite);
    std::vector<std::size_t> stack;
    bool cyclic = false;
    std::function<void(std::size_t)> visit = [&](std::size_t v) {
      color[v] = kGrey;
      stack.push_back(v);
      for (std::size_t w : edges[v]) {
        if (color[w] == kGrey) {
          cyclic = true;
          auto from = std::find(stack.begin(), stack.end(), w);
          std::vector<std::string> cycle;
          for (auto it = from; it != stack.end(); ++it) {
            cycle.push_back(p->actions[*it].name);
          }
          cycle.push_back(p->actions[w].name);
          // Report at the first action of the cycle, in file order.
          const Action& at = p->actions[*std::min_element(from, stack.end())];
          // Rotate the printed cycle to start at that action.
          std::vector<std::string> ring(cycle.begin(), cycle.end() - 1);
          auto start = std::find(ring.begin(), ring.end(), at.name);
          std::rotate(ring.begin(), start, ring.end());
          ring.push_back(ring.front());
          c_.Report(at.pos, JoinPath(JoinPath("actions", at.name), "needs"),
                    StrCat("cycle: ", Join(ring, " -> ")));
        } else if (color[w] == kWhite) {
          visit(w);
        }
      }
      stack.pop_back();
      color[v] = kBlack;
    };
    for (std::size_t v = 0; v < p->actions.size(); ++v) {
      if (color[v] == kWhite) visit(v);
    }
    if (cyclic) return;
    // Topological order, file order among the ready ones.
    std::vector<int> missing(p->actions.size(), 0);
    std::vector<std::vector<std::size_t>> dependents(p->actions.size());
    for (std::size_t i = 0; i < edges.size(); ++i) {
      missing[i] = static_cast<int>(edges[i].size());
      for (std::size_t j : edges[i]) dependents[j].push_back(i);
    }
    std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>>
        ready;
    for (std::size_t i = 0; i < missing.size(); ++i) {
      if (missing[i] == 0) ready.push(i);
    }
    while (!ready.empty()) {
      std::size_t v = ready.top();
      ready.pop();
      p->order.push_back(v);
      for (std::size_t d : dependents[v]) {
        if (--missing[d] == 0) ready.push(d);
      }
    }
  }

  void CheckOutputsUnique(const Pipeline& /*p*/) {
    std::map<std::string, const OutputPos*> first;
    for (const OutputPos& o : output_pos_) {
      auto [it, inserted] = first.emplace(o.glob, &o);
      if (inserted) continue;
      const OutputPos& f = *it->second;
      c_.Report(o.pos, o.path,
                f.action == o.action
                    ? StrCat(Quote(o.glob), " is listed twice (first at line ",
                             f.pos.line, ")")
                    : StrCat(Quote(o.glob), " is already an output of action '",
                             f.action, "' (line ", f.pos.line,
                             "); each output belongs to one action"));
    }
  }

  struct OutputPos {
    std::string glob;
    std::string action;
    Position pos;
    std::string path;
  };

  YamlChecker c_;
  std::unordered_map<std::string, std::vector<Position>> needs_pos_;
  std::vector<OutputPos> output_pos_;
};

}  // namespace

const Action* Pipeline::Find(std::string_view name) const {
  for (const Action& a : actions) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

PipelineResult ParsePipeline(std::string_view text, std::string_view file) {
  return PipelineChecker(file).Check(text);
}

}  // namespace sluss::core
