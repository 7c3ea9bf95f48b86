#include "core/yaml.h"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <unordered_map>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include "core/strings.h"

namespace sluss::core {
namespace {

Position ToPosition(const YAML::Mark& m) {
  // yaml-cpp marks are 0-based; a null mark is -1.
  return Position{m.line < 0 ? 1 : m.line + 1,
                  m.column < 0 ? 1 : m.column + 1};
}

// The offset of the first byte that is not UTF-8 text: invalid UTF-8, or a
// control character other than tab, line feed and carriage return.
std::size_t FindBadText(std::string_view text) {
  std::size_t bad = FindInvalidUtf8(text);
  for (std::size_t i = 0; i < text.size() && i < bad; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return i;
  }
  return bad;
}

// Thrown from inside the event handler to stop the parse at once.
struct StopParse {
  YamlError error;
};

class TreeBuilder : public YAML::EventHandler {
 public:
  explicit TreeBuilder(const YamlLimits& limits) : limits_(limits) {}

  std::optional<YamlNode> TakeRoot() { return std::move(root_); }
  int documents() const { return documents_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ > 1) {
      throw StopParse{{ToPosition(mark),
                       "the file holds more than one YAML document ('---'); "
                       "put everything in one"}};
    }
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    YamlNode n;
    n.kind = YamlNode::Kind::kNull;
    n.pos = ToPosition(mark);
    Add(std::move(n), anchor, 1);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      throw StopParse{{ToPosition(mark), "alias to an unknown anchor"}};
    }
    const auto& [node, size] = it->second;
    alias_nodes_ += size;
    if (alias_nodes_ > limits_.max_alias_nodes) {
      throw StopParse{
          {ToPosition(mark),
           StrCat("aliases expand to more than ", limits_.max_alias_nodes,
                  " nodes; YAML alias bombs ('billion laughs') are refused. "
                  "Write the values out instead of nesting aliases")}};
    }
    YamlNode copy = node;
    Add(std::move(copy), 0, size);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag,
                YAML::anchor_t anchor, const std::string& value) override {
    YamlNode n;
    n.pos = ToPosition(mark);
    // Escapes in quoted scalars ("\0", "\uD800") can make what the file
    // itself could not hold.
    if (FindBadText(value) != std::string_view::npos) {
      throw StopParse{{n.pos,
                       "the value holds a control character or invalid "
                       "UTF-8 (from an escape sequence)"}};
    }
    // yaml-cpp tags plain scalars "?" and quoted or block ones "!".
    bool plain = tag == "?";
    if (plain && (value == "~" || value == "null" || value == "Null" ||
                  value == "NULL")) {
      n.kind = YamlNode::Kind::kNull;
    } else {
      n.kind = YamlNode::Kind::kScalar;
      n.value = value;
      n.quoted = !plain;
    }
    Add(std::move(n), anchor, 1);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&,
                       YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    Open(YamlNode::Kind::kSequence, mark, anchor);
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&,
                  YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    Open(YamlNode::Kind::kMap, mark, anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    YamlNode node;
    YAML::anchor_t anchor = 0;
    std::size_t size = 1;
    std::optional<YamlNode> key;
  };

  void Open(YamlNode::Kind kind, const YAML::Mark& mark,
            YAML::anchor_t anchor) {
    Frame f;
    f.node.kind = kind;
    f.node.pos = ToPosition(mark);
    f.anchor = anchor;
    stack_.push_back(std::move(f));
  }

  void Close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    Add(std::move(f.node), f.anchor, f.size);
  }

  void Add(YamlNode n, YAML::anchor_t anchor, std::size_t size) {
    if (anchor != 0) anchors_[anchor] = {n, size};
    if (stack_.empty()) {
      root_ = std::move(n);
      return;
    }
    Frame& top = stack_.back();
    top.size += size;
    if (top.node.kind == YamlNode::Kind::kSequence) {
      top.node.items.push_back(std::move(n));
    } else if (!top.key) {
      top.key = std::move(n);
    } else {
      top.node.entries.push_back(YamlEntry{std::move(*top.key), std::move(n)});
      top.key.reset();
    }
  }

  const YamlLimits& limits_;
  std::vector<Frame> stack_;
  std::optional<YamlNode> root_;
  std::unordered_map<YAML::anchor_t, std::pair<YamlNode, std::size_t>> anchors_;
  std::size_t alias_nodes_ = 0;
  int documents_ = 0;
};

}  // namespace

std::string_view YamlNode::KindName() const {
  switch (kind) {
    case Kind::kNull: return "nothing";
    case Kind::kScalar: return "a single value";
    case Kind::kSequence: return "a list";
    case Kind::kMap: return "a mapping";
  }
  return "?";
}

std::expected<YamlNode, YamlError> ParseYaml(std::string_view text,
                                             const YamlLimits& limits) {
  // YAML files are UTF-8 text; anything else would reach stored JSON, logs
  // and terminals.
  if (std::size_t bad = FindBadText(text); bad != std::string_view::npos) {
    Position pos;
    for (std::size_t i = 0; i < bad; ++i) {
      if (text[i] == '\n') {
        ++pos.line;
        pos.column = 1;
      } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
        ++pos.column;
      }
    }
    return std::unexpected(YamlError{
        pos, static_cast<unsigned char>(text[bad]) < 0x80
                 ? "the file holds a control character here"
                 : "the file is not valid UTF-8 here"});
  }
  std::istringstream in{std::string(text)};
  TreeBuilder builder(limits);
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const StopParse& stop) {
    return std::unexpected(stop.error);
  } catch (const YAML::Exception& e) {
    // e.msg is yaml-cpp's message without the position prefix.
    return std::unexpected(YamlError{ToPosition(e.mark),
                                     StrCat("YAML syntax error: ", e.msg)});
  } catch (const std::exception& e) {
    return std::unexpected(
        YamlError{Position{}, StrCat("YAML error: ", e.what())});
  }
  auto root = builder.TakeRoot();
  if (!root) return YamlNode{};  // empty text
  return std::move(*root);
}

std::string JoinPath(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return StrCat(path, ".", key);
}

void YamlChecker::Report(Position pos, std::string_view path,
                         std::string_view message) {
  diagnostics_.push_back(Diagnostic{
      file_, pos, path.empty() ? std::string(message)
                               : StrCat(path, ": ", message)});
}

Diagnostics YamlChecker::TakeSorted() {
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return a.pos < b.pos;
                   });
  return std::move(diagnostics_);
}

std::vector<std::pair<std::string, const YamlNode*>> YamlChecker::Entries(
    const YamlNode& node, std::string_view path, std::string_view what) {
  std::vector<std::pair<std::string, const YamlNode*>> out;
  if (!node.IsMap()) {
    Report(node.pos, path, StrCat("expected a mapping of ", what, ", got ",
                                  node.KindName()));
    return out;
  }
  std::unordered_map<std::string, Position> seen;
  for (const auto& [key, value] : node.entries) {
    if (!key.IsScalar()) {
      Report(key.pos, path,
             StrCat("keys must be plain names, got ", key.KindName()));
      continue;
    }
    if (key.value == "<<" && !key.quoted) {
      Report(key.pos, path,
             "merge keys ('<<') are not supported; write the keys out");
      continue;
    }
    auto [it, inserted] = seen.emplace(key.value, key.pos);
    if (!inserted) {
      Report(key.pos, path,
             StrCat("duplicate key ", Quote(key.value), " (first at line ",
                    it->second.line, ")"));
      continue;
    }
    out.emplace_back(key.value, &value);
  }
  return out;
}

std::map<std::string, const YamlNode*> YamlChecker::Fields(
    const YamlNode& node, std::string_view path,
    std::span<const std::string_view> allowed) {
  std::map<std::string, const YamlNode*> out;
  std::vector<std::string_view> names(allowed.begin(), allowed.end());
  auto entries = Entries(node, path, "keys");
  for (auto& [key, value] : entries) {
    if (std::find(names.begin(), names.end(), key) == names.end()) {
      std::string hint = ClosestMatch(key, names);
      std::string msg = StrCat("unknown key ", Quote(key));
      if (!hint.empty()) {
        msg += StrCat(" (did you mean '", hint, "'?)");
      } else {
        std::vector<std::string> all(names.begin(), names.end());
        msg += StrCat(" (expected one of: ", Join(all, ", "), ")");
      }
      Report(KeyPosition(node, value), path, msg);
      continue;
    }
    out.emplace(key, value);
  }
  return out;
}

std::optional<std::string> YamlChecker::String(const YamlNode& node,
                                               std::string_view path) {
  if (!node.IsScalar()) {
    Report(node.pos, path, StrCat("expected a string, got ", node.KindName()));
    return std::nullopt;
  }
  return node.value;
}

std::optional<long long> YamlChecker::Integer(const YamlNode& node,
                                              std::string_view path,
                                              long long min, long long max) {
  long long v = 0;
  if (node.IsScalar() && !node.value.empty()) {
    const char* b = node.value.data();
    const char* e = b + node.value.size();
    auto [ptr, ec] = std::from_chars(b, e, v);
    if (ec == std::errc() && ptr == e) {
      if (v < min || v > max) {
        Report(node.pos, path,
               StrCat("must be between ", min, " and ", max, ", got ",
                      node.value));
        return std::nullopt;
      }
      return v;
    }
  }
  Report(node.pos, path,
         StrCat("expected a whole number, got ",
                node.IsScalar() ? Quote(node.value)
                                : std::string(node.KindName())));
  return std::nullopt;
}

std::optional<bool> YamlChecker::Bool(const YamlNode& node,
                                      std::string_view path) {
  if (node.IsScalar() && !node.quoted) {
    if (node.value == "true" || node.value == "True" || node.value == "TRUE")
      return true;
    if (node.value == "false" || node.value == "False" ||
        node.value == "FALSE")
      return false;
  }
  Report(node.pos, path,
         StrCat("expected true or false, got ",
                node.IsScalar() ? Quote(node.value)
                                : std::string(node.KindName())));
  return std::nullopt;
}

std::optional<std::vector<std::pair<std::string, Position>>>
YamlChecker::StringList(const YamlNode& node, std::string_view path,
                        std::string_view what) {
  if (!node.IsSequence()) {
    Report(node.pos, path,
           StrCat("expected a list of ", what, ", got ", node.KindName(),
                  node.IsScalar() ? StrCat(" (write [", node.value, "])")
                                  : std::string()));
    return std::nullopt;
  }
  std::vector<std::pair<std::string, Position>> out;
  bool ok = true;
  for (const auto& item : node.items) {
    if (!item.IsScalar()) {
      Report(item.pos, path,
             StrCat("expected ", what, " as strings, got ", item.KindName()));
      ok = false;
      continue;
    }
    out.emplace_back(item.value, item.pos);
  }
  if (!ok) return std::nullopt;
  return out;
}

Position YamlChecker::KeyPosition(const YamlNode& map, const YamlNode* value) {
  for (const auto& [k, v] : map.entries) {
    if (&v == value) return k.pos;
  }
  return map.pos;
}

std::string Diagnostic::ToString() const {
  return StrCat(file, ":", pos.line, ":", pos.column, ": ", message);
}

}  // namespace sluss::core
