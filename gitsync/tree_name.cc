#include <string>
#include <string_view>

#include "core/strings.h"
#include "gitsync/gitsync.h"

namespace sluss::gitsync {

namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// git's is_ntfs_dotgit: ".git" or its 8.3 short name "git~1", in any case,
// followed by nothing, or by trailing dots and spaces (which Windows drops),
// or by a ':' stream name or a backslash. One component, so '/' cannot occur.
bool IsNtfsDotGit(std::string_view name) {
  std::size_t i = 0;
  auto take = [&](char want) { return i < name.size() && Lower(name[i++]) == want; };
  if (name.starts_with('.')) {
    ++i;
    if (!take('g') || !take('i') || !take('t')) return false;
  } else {
    if (!take('g') || !take('i') || !take('t') || !take('~') || !take('1')) return false;
  }
  for (; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '\\' || c == ':') return true;
    if (c != '.' && c != ' ') return false;
  }
  return true;
}

// git's is_hfs_dotgit: HFS+ ignores some Unicode code points (zero-width
// joiners, direction marks, the BOM) when it compares names, so ".g\u200cit"
// is ".git" there. The ignorable code points are all three bytes in UTF-8.
bool IsHfsDotGit(std::string_view name) {
  std::string folded;
  for (std::size_t i = 0; i < name.size();) {
    const auto b0 = static_cast<unsigned char>(name[i]);
    if (i + 2 < name.size()) {
      const auto b1 = static_cast<unsigned char>(name[i + 1]);
      const auto b2 = static_cast<unsigned char>(name[i + 2]);
      const bool ignorable =
          (b0 == 0xE2 && b1 == 0x80 && ((b2 >= 0x8C && b2 <= 0x8F) || (b2 >= 0xAA && b2 <= 0xAE))) ||
          (b0 == 0xE2 && b1 == 0x81 && b2 >= 0xAA && b2 <= 0xAF) ||
          (b0 == 0xEF && b1 == 0xBB && b2 == 0xBF);
      if (ignorable) {
        i += 3;
        continue;
      }
    }
    folded += Lower(name[i]);
    ++i;
  }
  return folded == ".git";
}

}  // namespace

std::optional<std::string> BadTreeEntryName(std::string_view name) {
  if (name.empty()) return "an empty name";
  if (name.find('\0') != std::string_view::npos) return "a NUL byte in the name";
  if (name.find('/') != std::string_view::npos) return "a '/' in the name";
  if (name == "." || name == "..") return core::StrCat("the name ", core::Quote(name));
  if (IsNtfsDotGit(name) || IsHfsDotGit(name))
    return core::StrCat("the name ", core::Quote(name), ", which git treats as .git");
  return std::nullopt;
}

}  // namespace sluss::gitsync
