#pragma once

// What an image holds, as a researcher plans code around it: its packages
// with versions (Debian's, Python's, R's) and the interpreters a job's
// `run` may name. The parsers here read the files that record installed
// packages; they take text and do no I/O (executors/image_contents.h reads
// them from an image's root file system).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluss::core {

struct ImagePackage {
  std::string ecosystem;  // "deb", "python" or "r"
  std::string name;
  std::string version;
  friend bool operator==(const ImagePackage&, const ImagePackage&) = default;
};

struct ImageContents {
  std::vector<ImagePackage> packages;  // sorted by ecosystem, then name
  // Of kInterpreters, those found in the image's /usr/bin (or /usr/local/bin).
  std::vector<std::string> interpreters;
  std::vector<std::string> notes;  // what could not be read, for a person
};

// The interpreters `sluss check` knows to look for.
inline constexpr const char* kInterpreters[] = {"python3", "python", "Rscript", "R"};

// Readers of these files read no more than this of one file.
inline constexpr std::size_t kMaxControlBytes = 64u << 20;

// One paragraph of a Debian control-style file (dpkg status, R DESCRIPTION,
// Python METADATA headers): "Field: value" lines, continuation lines
// starting with a space or tab. Field names as written.
struct ControlField {
  std::string name;
  std::string value;  // first line only, trimmed; continuations dropped
};
using ControlParagraph = std::vector<ControlField>;

// Splits `text` into paragraphs at blank lines. Never fails: lines that are
// not "Field: value" are skipped.
std::vector<ControlParagraph> ParseControl(std::string_view text);

// The value of `field` (ASCII case-insensitive), or nullopt.
std::optional<std::string> FieldOf(const ControlParagraph& p, std::string_view field);

// /var/lib/dpkg/status: the packages whose Status is "install ok installed"
// (others, half-installed or removed with their config left, are not
// there), as "deb" packages. Paragraphs without Package or Version skipped.
std::vector<ImagePackage> ParseDpkgStatus(std::string_view text);

// A Python distribution's METADATA (dist-info) or PKG-INFO (egg-info): the
// Name and Version headers, before the first blank line. The name is kept
// as written; nullopt when either is missing or empty.
std::optional<ImagePackage> ParsePythonMetadata(std::string_view text);

// An R package's DESCRIPTION: Package and Version. nullopt when either is
// missing or empty.
std::optional<ImagePackage> ParseRDescription(std::string_view text);

// The interpreter a `run` line starts with, if it is one sluss knows
// (python3, python3.11 -> "python3"; python; Rscript; R), after any
// leading VAR=value words and a path ("/usr/bin/python3" -> "python3").
std::optional<std::string> InterpreterOf(std::string_view run);

// Sorts packages (ecosystem, name, version) and drops exact duplicates.
void SortPackages(std::vector<ImagePackage>& packages);

}  // namespace sluss::core
