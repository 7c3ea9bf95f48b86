#include "core/strings.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace sluss::core {

std::string Quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  out += "'";
  return out;
}

std::size_t FindInvalidUtf8(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + static_cast<std::size_t>(len) > n) return i;
    for (int k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return i;
    }
    i += static_cast<std::size_t>(len);
  }
  return std::string_view::npos;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out.append(sep);
    out.append(parts[i]);
  }
  return out;
}

int EditDistance(std::string_view a, std::string_view b, int cap) {
  // Optimal string alignment: insertions, deletions, substitutions and
  // transpositions of neighbours ("imgae" -> "image") each cost one.
  int la = static_cast<int>(a.size()), lb = static_cast<int>(b.size());
  if (la - lb > cap || lb - la > cap) return cap + 1;
  std::vector<std::vector<int>> d(la + 1, std::vector<int>(lb + 1));
  for (int i = 0; i <= la; ++i) d[i][0] = i;
  for (int j = 0; j <= lb; ++j) d[0][j] = j;
  for (int i = 1; i <= la; ++i) {
    for (int j = 1; j <= lb; ++j) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return std::min(d[la][lb], cap + 1);
}

std::string ClosestMatch(std::string_view word,
                         const std::vector<std::string_view>& candidates) {
  // Up to one edit per three letters, at most two: "imgae" -> "image",
  // but "x" suggests nothing.
  int cap = std::min<int>(2, std::max<int>(1, static_cast<int>(word.size()) / 3));
  int best = cap + 1;
  std::string_view best_word;
  for (auto c : candidates) {
    int d = EditDistance(word, c, cap);
    if (d < best) {
      best = d;
      best_word = c;
    }
  }
  if (best_word.empty() && word.size() >= 3) {
    // A word cut short or run on: "root" -> "rootfs".
    for (auto c : candidates) {
      if (c.starts_with(word) || word.starts_with(c)) return std::string(c);
    }
  }
  return std::string(best_word);
}

}  // namespace sluss::core
