#include "core/quantity.h"

#include <array>
#include <cctype>

#include "core/strings.h"

namespace sluss::core {
namespace {

// 128-bit intermediates keep 18 digits times 2^50 exact.
__extension__ typedef __int128 Int128;

// A non-negative decimal number split into its digits: value =
// mantissa / 10^frac_digits. Digits beyond 18 are refused so that the
// arithmetic below cannot overflow Int128.
struct Decimal {
  Int128 mantissa = 0;
  int frac_digits = 0;
};

// Reads a decimal number from the front of `text`, leaves the rest (the unit)
// in `rest`.
Result<Decimal> ReadDecimal(std::string_view text, std::string_view what,
                            std::string_view* rest) {
  if (text.empty()) return InvalidArgument(StrCat(what, " is empty"));
  if (text.front() == '-') {
    return InvalidArgument(
        StrCat(what, " ", Quote(text), " must not be negative"));
  }
  if (text.front() == '+') {
    return InvalidArgument(
        StrCat(what, " ", Quote(text), ": write the number without a sign"));
  }
  Decimal d;
  std::size_t i = 0;
  int digits = 0;
  bool seen_dot = false;
  bool any_digit = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      any_digit = true;
      if (d.mantissa == 0 && c == '0' && !seen_dot) continue;  // leading zeros
      if (++digits > 18) {
        return InvalidArgument(
            StrCat(what, " ", Quote(text), " is too large"));
      }
      d.mantissa = d.mantissa * 10 + (c - '0');
      if (seen_dot) ++d.frac_digits;
    } else if (c == '.' && !seen_dot) {
      seen_dot = true;
    } else {
      break;
    }
  }
  if (!any_digit) {
    return InvalidArgument(
        StrCat(what, " ", Quote(text), " does not start with a number"));
  }
  *rest = text.substr(i);
  return d;
}

Int128 Pow10(int n) {
  Int128 p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

// mantissa * unit / 10^frac, rounded half up.
Int128 Scale(const Decimal& d, Int128 unit) {
  Int128 den = Pow10(d.frac_digits);
  return (d.mantissa * unit + den / 2) / den;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::int64_t> ParseBytes(std::string_view text) {
  std::string_view unit;
  auto d = ReadDecimal(text, "memory size", &unit);
  if (!d) return std::unexpected(d.error());
  static constexpr std::array<std::pair<char, int>, 5> kUnits{
      {{'K', 10}, {'M', 20}, {'G', 30}, {'T', 40}, {'P', 50}}};
  int shift = -1;
  if (unit.empty() || unit == "B" || unit == "b") {
    shift = 0;
  } else {
    char u = static_cast<char>(std::toupper(static_cast<unsigned char>(unit[0])));
    for (auto [letter, s] : kUnits) {
      if (u == letter) shift = s;
    }
    std::string_view tail = unit.substr(1);
    if (shift >= 0 && !(tail.empty() || tail == "i" || tail == "B" ||
                        tail == "iB" || EqualsIgnoreCase(tail, "b"))) {
      shift = -1;
    }
  }
  if (shift < 0) {
    return InvalidArgument(StrCat("memory size ", Quote(text), ": unknown unit ", Quote(unit), "; use K, M, G, T or P (powers of 1024), e.g. 16G or 512M"));
  }
  Int128 bytes = Scale(*d, Int128{1} << shift);
  if (bytes > kMaxBytes) {
    return InvalidArgument(StrCat("memory size ", Quote(text), " is too large (the limit is 1024P)"));
  }
  return static_cast<std::int64_t>(bytes);
}

std::string FormatBytes(std::int64_t bytes) {
  static constexpr std::array<std::pair<const char*, int>, 5> kUnits{
      {{"K", 10}, {"M", 20}, {"G", 30}, {"T", 40}, {"P", 50}}};
  std::string best = std::to_string(bytes);
  if (bytes < 1024) return best;
  // In each unit, the fewest decimals that ParseBytes reads back as these
  // very bytes (it rounds mantissa * unit / 10^f half up); 10^16 > 2^50, so
  // 16 decimals always do. The shortest text wins, the larger unit on ties:
  // "1.9951T" stays "1.9951T", never "2T".
  for (auto [name, shift] : kUnits) {
    const Int128 unit = Int128{1} << shift;
    if (bytes < unit) break;
    for (int f = 0; f <= 16; ++f) {
      const Int128 den = Pow10(f);
      const Int128 floor = static_cast<Int128>(bytes) * den / unit;
      std::string found;
      for (Int128 m : {floor, floor + 1}) {
        if ((m * unit + den / 2) / den != bytes) continue;
        const auto whole = static_cast<std::int64_t>(m / den);
        std::string frac = f == 0 ? "" : std::to_string(static_cast<std::int64_t>(m % den));
        if (f > 0) frac = "." + std::string(f - frac.size(), '0') + frac;
        found = StrCat(whole, frac, name);
        break;
      }
      if (found.empty()) continue;
      if (found.size() <= best.size()) best = std::move(found);
      break;
    }
  }
  return best;
}

Result<std::chrono::seconds> ParseDuration(std::string_view text) {
  static constexpr std::array<std::pair<char, std::int64_t>, 4> kUnits{
      {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}};
  if (text.empty()) return InvalidArgument("duration is empty");
  Int128 total = 0;
  std::size_t next_unit = 0;  // units must come in kUnits order
  std::string_view rest = text;
  while (!rest.empty()) {
    std::string_view after;
    auto d = ReadDecimal(rest, "duration", &after);
    if (!d) {
      if (rest.size() != text.size()) {  // a later component
        return InvalidArgument(StrCat("duration ", Quote(text), ": expected a number after the unit"));
      }
      return InvalidArgument(
          d.error().message.find("negative") != std::string::npos
              ? StrCat("duration ", Quote(text), " must not be negative")
              : StrCat("duration ", Quote(text), ": expected a number and a unit, e.g. 2h, 90m or 1d12h"));
    }
    if (after.empty()) {
      return InvalidArgument(StrCat("duration ", Quote(text), " has no unit; write e.g. ", rest, "m for minutes or ", rest, "h for hours"));
    }
    char u = after.front();
    std::size_t idx = kUnits.size();
    for (std::size_t i = 0; i < kUnits.size(); ++i) {
      if (kUnits[i].first == u) idx = i;
    }
    if (idx == kUnits.size()) {
      return InvalidArgument(StrCat("duration ", Quote(text), ": unknown unit '", u, "'; use d, h, m or s, e.g. 1d12h"));
    }
    if (idx < next_unit) {
      return InvalidArgument(StrCat("duration ", Quote(text), ": units must come largest first, each once (e.g. 1d12h30m)"));
    }
    next_unit = idx + 1;
    total += Scale(*d, kUnits[idx].second);
    if (total > kMaxDuration.count()) {
      return InvalidArgument(StrCat("duration ", Quote(text), " is too long (the limit is 366d)"));
    }
    rest = after.substr(1);
  }
  return std::chrono::seconds(static_cast<std::int64_t>(total));
}

std::string FormatDuration(std::chrono::seconds d) {
  std::int64_t s = d.count();
  if (s <= 0) return StrCat(s, "s");
  std::string out;
  static constexpr std::array<std::pair<char, std::int64_t>, 4> kUnits{
      {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}};
  for (auto [name, unit] : kUnits) {
    if (s >= unit) {
      out += StrCat(s / unit, name);
      s %= unit;
    }
  }
  return out;
}

Result<std::int64_t> ParseMilliCpus(std::string_view text) {
  std::string_view unit;
  auto d = ReadDecimal(text, "cpus", &unit);
  if (!d) return std::unexpected(d.error());
  Int128 milli;
  if (unit.empty()) {
    if (d->frac_digits > 3 &&
        d->mantissa % Pow10(d->frac_digits - 3) != 0) {
      return InvalidArgument(StrCat("cpus ", Quote(text), " is finer than 0.001 CPU"));
    }
    milli = Scale(*d, 1000);
  } else if (unit == "m") {
    if (d->frac_digits > 0 && d->mantissa % Pow10(d->frac_digits) != 0) {
      return InvalidArgument(StrCat("cpus ", Quote(text), ": millicpus must be a whole number"));
    }
    milli = Scale(*d, 1);
  } else {
    return InvalidArgument(StrCat("cpus ", Quote(text), ": unknown unit ", Quote(unit), "; write a number of CPUs (4, 0.5) or millicpus (500m)"));
  }
  if (milli > kMaxMilliCpus) {
    return InvalidArgument(StrCat("cpus ", Quote(text), " is too large"));
  }
  return static_cast<std::int64_t>(milli);
}

std::string FormatMilliCpus(std::int64_t milli) {
  if (milli % 1000 == 0) return std::to_string(milli / 1000);
  std::int64_t frac = milli % 1000;
  std::string s = StrCat(milli / 1000, frac < 10 ? ".00" : frac < 100 ? ".0" : ".", frac);
  while (s.back() == '0') s.pop_back();
  return s;
}

}  // namespace sluss::core
