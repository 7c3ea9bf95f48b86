#pragma once

// A small YAML document model with positions, built from yaml-cpp's event
// parser rather than YAML::Node, because sluss reads untrusted files:
//   - duplicate mapping keys are kept (yaml-cpp's Node silently drops the
//     second), so the schema checks can report them;
//   - aliases are expanded under a budget, so an alias bomb ("billion laughs")
//     is refused with the alias's position instead of exhausting memory;
//   - every node carries its line and column.
// Text in, tree out: no I/O.

#include <cstddef>
#include <expected>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/diagnostic.h"

namespace sluss::core {

struct YamlEntry;

struct YamlNode {
  enum class Kind { kNull, kScalar, kSequence, kMap };

  Kind kind = Kind::kNull;
  Position pos;
  std::string value;     // kScalar only
  bool quoted = false;   // kScalar: written in quotes (so "1" is a string)
  std::vector<YamlNode> items;                           // kSequence
  std::vector<YamlEntry> entries;                        // kMap, in file order

  bool IsNull() const { return kind == Kind::kNull; }
  bool IsScalar() const { return kind == Kind::kScalar; }
  bool IsSequence() const { return kind == Kind::kSequence; }
  bool IsMap() const { return kind == Kind::kMap; }
  // "a mapping", "a list", "a string", "nothing": for "expected X, got Y".
  std::string_view KindName() const;
};

// A mapping entry. Named first/second like std::pair, which cannot hold the
// still incomplete YamlNode.
struct YamlEntry {
  YamlNode first;
  YamlNode second;
};

struct YamlLimits {
  // Nodes that alias expansion may add, in all. Legitimate anchors in a
  // pipeline file add a few hundred; a billion-laughs file needs 10^9.
  std::size_t max_alias_nodes = 10'000;
};

struct YamlError {
  Position pos;
  std::string message;
};

// Parses exactly one YAML document. An empty text gives a kNull node at 1:1.
// A second document in the same text is an error.
std::expected<YamlNode, YamlError> ParseYaml(std::string_view text,
                                             const YamlLimits& limits = {});

// Collects diagnostics while a schema is checked against a YamlNode tree.
// `path` arguments are dotted key paths ("actions.extract.resources") that
// start every message, so each error names the key it is about.
class YamlChecker {
 public:
  explicit YamlChecker(std::string file) : file_(std::move(file)) {}

  void Report(Position pos, std::string_view path, std::string_view message);
  const Diagnostics& diagnostics() const { return diagnostics_; }
  // The diagnostics ordered by position (stable for equal positions).
  Diagnostics TakeSorted();

  // Checks that `node` is a mapping whose keys are plain strings from
  // `allowed`, each at most once. Reports unknown keys (with "did you mean"),
  // non-string keys and duplicates. Returns key -> value for the keys that are
  // allowed (first occurrence). Not a map: reports and returns empty.
  std::map<std::string, const YamlNode*> Fields(
      const YamlNode& node, std::string_view path,
      std::span<const std::string_view> allowed);

  // Checks that `node` is a mapping with string keys, each at most once, and
  // returns its entries in file order. Not a map: reports, returns empty.
  std::vector<std::pair<std::string, const YamlNode*>> Entries(
      const YamlNode& node, std::string_view path, std::string_view what);

  // Scalars. Each reports a type error and returns nullopt when wrong.
  std::optional<std::string> String(const YamlNode& node,
                                    std::string_view path);
  std::optional<long long> Integer(const YamlNode& node, std::string_view path,
                                   long long min, long long max);
  std::optional<bool> Bool(const YamlNode& node, std::string_view path);
  // A list of strings; `what` names an element ("action names").
  std::optional<std::vector<std::pair<std::string, Position>>> StringList(
      const YamlNode& node, std::string_view path, std::string_view what);

  const std::string& file() const { return file_; }

  // Where the key of `value` (an entry of `map`) stands; the map's own
  // position when not found. For values that have no position of their own,
  // such as an empty value at the end of the file.
  static Position KeyPosition(const YamlNode& map, const YamlNode* value);

 private:
  std::string file_;
  Diagnostics diagnostics_;
};

// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
std::string JoinPath(std::string_view path, std::string_view key);

}  // namespace sluss::core
