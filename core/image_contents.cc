#include "core/image_contents.h"

#include <algorithm>
#include <tuple>

namespace sluss::core {

namespace {

constexpr std::string_view kSpace = " \t\r";

std::string_view Trim(std::string_view s) {
  auto b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// A field name: printable ASCII without ':' or space, as RFC 822 and
// Debian policy 5.1 have it.
bool IsFieldName(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 127 && c != ':'; });
}

std::optional<ImagePackage> NameAndVersion(const ControlParagraph& p, std::string_view ecosystem,
                                           std::string_view name_field) {
  auto name = FieldOf(p, name_field);
  auto version = FieldOf(p, "Version");
  if (!name || !version || name->empty() || version->empty()) return std::nullopt;
  return ImagePackage{std::string(ecosystem), *name, *version};
}

}  // namespace

std::vector<ControlParagraph> ParseControl(std::string_view text) {
  std::vector<ControlParagraph> out;
  ControlParagraph current;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (Trim(line).empty()) {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
      continue;
    }
    if (line[0] == ' ' || line[0] == '\t') continue;  // a continuation line
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    if (!IsFieldName(name)) continue;
    current.push_back({std::string(name), std::string(Trim(line.substr(colon + 1)))});
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

std::optional<std::string> FieldOf(const ControlParagraph& p, std::string_view field) {
  for (const auto& f : p)
    if (EqualsIgnoreCase(f.name, field)) return f.value;
  return std::nullopt;
}

std::vector<ImagePackage> ParseDpkgStatus(std::string_view text) {
  std::vector<ImagePackage> out;
  for (const auto& p : ParseControl(text)) {
    auto status = FieldOf(p, "Status");
    if (!status || *status != "install ok installed") continue;
    if (auto pkg = NameAndVersion(p, "deb", "Package")) out.push_back(std::move(*pkg));
  }
  SortPackages(out);
  return out;
}

std::optional<ImagePackage> ParsePythonMetadata(std::string_view text) {
  // The headers end at the first blank line; the description follows and
  // may hold anything, "Name:" lines included.
  auto paragraphs = ParseControl(text.substr(0, std::min(text.size(), text.find("\n\n"))));
  if (paragraphs.empty()) return std::nullopt;
  return NameAndVersion(paragraphs.front(), "python", "Name");
}

std::optional<ImagePackage> ParseRDescription(std::string_view text) {
  auto paragraphs = ParseControl(text);
  if (paragraphs.empty()) return std::nullopt;
  return NameAndVersion(paragraphs.front(), "r", "Package");
}

std::optional<std::string> InterpreterOf(std::string_view run) {
  std::string_view rest = run;
  while (true) {
    auto b = rest.find_first_not_of(" \t");
    if (b == std::string_view::npos) return std::nullopt;
    rest = rest.substr(b);
    auto e = rest.find_first_of(" \t");
    std::string_view word = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e);
    // `env` and VAR=value words come before the program.
    auto eq = word.find('=');
    if (word == "env" || word == "/usr/bin/env" || (eq != std::string_view::npos && eq > 0 &&
                                                   word.find('/') > eq))
      continue;
    if (auto slash = word.rfind('/'); slash != std::string_view::npos) word = word.substr(slash + 1);
    if (word == "python3" || word == "python" || word == "Rscript" || word == "R") return std::string(word);
    // python3.11 and the like: the image's python3 is what the check looks for.
    if (word.starts_with("python3.") && word.size() > 8 &&
        std::all_of(word.begin() + 8, word.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::string("python3");
    return std::nullopt;
  }
}

void SortPackages(std::vector<ImagePackage>& packages) {
  auto key = [](const ImagePackage& p) { return std::tie(p.ecosystem, p.name, p.version); };
  std::sort(packages.begin(), packages.end(),
            [&](const ImagePackage& a, const ImagePackage& b) { return key(a) < key(b); });
  packages.erase(std::unique(packages.begin(), packages.end()), packages.end());
}

}  // namespace sluss::core
