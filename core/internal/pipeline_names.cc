#include "core/internal/pipeline_names.h"

#include <algorithm>
#include <functional>

namespace sluss::core::internal {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}
bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// [first][rest]{0,max-1}
bool MatchesName(std::string_view s, std::size_t max,
                 const std::function<bool(char)>& first,
                 const std::function<bool(char)>& rest) {
  if (s.empty() || s.size() > max || !first(s[0])) return false;
  return std::all_of(s.begin() + 1, s.end(), rest);
}

}  // namespace

bool IsActionName(std::string_view s) {
  return MatchesName(s, 64, IsAlnum,
                     [](char c) { return IsAlnum(c) || c == '_' || c == '-'; });
}
bool IsImageName(std::string_view s) {
  return MatchesName(s, 128, IsAlnum, [](char c) {
    return IsAlnum(c) || c == '.' || c == '_' || c == '-' || c == ':';
  });
}
bool IsDatasetName(std::string_view s) {
  return MatchesName(s, 64, IsLowerAlnum, [](char c) {
    return IsLowerAlnum(c) || c == '_' || c == '-';
  });
}
bool IsVersionName(std::string_view s) {
  return MatchesName(s, 64, IsAlnum, [](char c) {
    return IsAlnum(c) || c == '.' || c == '_' || c == '-';
  });
}
bool IsEnvName(std::string_view s) {
  auto first = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  };
  return MatchesName(s, 128, first,
                     [&](char c) { return first(c) || (c >= '0' && c <= '9'); });
}

}  // namespace sluss::core::internal
