#pragma once

// Small string helpers. g++ 12 has no <format>; StrCat covers what sluss
// needs (messages built from strings and integers) without a dependency.

#include <concepts>
#include <string>
#include <string_view>
#include <vector>

namespace sluss::core {

namespace strings_internal {
inline void Append(std::string& out, std::string_view s) { out.append(s); }
inline void Append(std::string& out, const char* s) { out.append(s); }
inline void Append(std::string& out, const std::string& s) { out.append(s); }
inline void Append(std::string& out, char c) { out.push_back(c); }
template <std::integral T>
  requires(!std::same_as<T, char> && !std::same_as<T, bool>)
void Append(std::string& out, T v) {
  out.append(std::to_string(v));
}
}  // namespace strings_internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (strings_internal::Append(out, args), ...);
  return out;
}

// "'text'" with control characters escaped, for quoting user input in
// messages without letting it forge lines.
std::string Quote(std::string_view text);

// The byte offset of the first invalid UTF-8 sequence (overlong forms,
// surrogates and code points past U+10FFFF are invalid), or npos.
std::size_t FindInvalidUtf8(std::string_view text);

std::string Join(const std::vector<std::string>& parts, std::string_view sep);

// Levenshtein distance, capped: returns cap + 1 when larger.
int EditDistance(std::string_view a, std::string_view b, int cap);

// The candidate closest to `word`, or "" when none is close enough to be a
// plausible typo.
std::string ClosestMatch(std::string_view word,
                         const std::vector<std::string_view>& candidates);

}  // namespace sluss::core
