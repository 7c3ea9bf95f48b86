#include "core/glob.h"

#include <vector>

namespace sluss::core {
namespace {

// One path part against one pattern part (no '/').
bool MatchPart(std::string_view p, std::string_view s) {
  std::size_t pi = 0, si = 0, star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star_p = pi++;
      star_s = si;
      continue;
    }
    if (pi < p.size() && p[pi] == '[') {
      std::size_t close = p.find(']', pi + 2);
      if (close != std::string_view::npos) {
        bool negate = p[pi + 1] == '!' || p[pi + 1] == '^';
        std::size_t k = pi + 1 + (negate ? 1 : 0);
        bool hit = false;
        for (; k < close; ++k) {
          if (k + 2 < close && p[k + 1] == '-') {
            if (s[si] >= p[k] && s[si] <= p[k + 2]) hit = true;
            k += 2;
          } else if (p[k] == s[si]) {
            hit = true;
          }
        }
        if (hit != negate) {
          pi = close + 1;
          ++si;
          continue;
        }
      } else if (s[si] == '[') {  // an unclosed '[' is literal
        ++pi;
        ++si;
        continue;
      }
    } else if (pi < p.size() && (p[pi] == '?' || p[pi] == s[si])) {
      ++pi;
      ++si;
      continue;
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p + 1;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

std::vector<std::string_view> Parts(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = s.find('/', start);
    out.push_back(s.substr(start, slash == std::string_view::npos ? std::string_view::npos
                                                                   : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

bool MatchParts(const std::vector<std::string_view>& p, std::size_t i,
                const std::vector<std::string_view>& s, std::size_t j) {
  while (i < p.size()) {
    if (p[i] == "**") {
      for (std::size_t k = j; k <= s.size(); ++k) {
        if (MatchParts(p, i + 1, s, k)) return true;
      }
      return false;
    }
    if (j >= s.size() || !MatchPart(p[i], s[j])) return false;
    ++i;
    ++j;
  }
  return j == s.size();
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view path) {
  return MatchParts(Parts(pattern), 0, Parts(path), 0);
}

}  // namespace sluss::core
