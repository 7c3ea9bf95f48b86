#include "daemon/sinfo.h"

#include <charconv>
#include <sstream>
#include <string>

#include "core/strings.h"

namespace sluss::daemon {

namespace {

bool Number(const std::string& s, std::int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p != s.data() && (p == s.data() + s.size() || *p == '+') && *out >= 0;
}

}  // namespace

core::Result<core::Resources> SinfoCapacity(std::string_view text, std::string_view partition) {
  core::Resources total{};
  bool found = false;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::istringstream f(line);
    std::string name, nodes, cpus, mem;
    if (!(f >> name >> nodes >> cpus >> mem))
      return core::InvalidArgument(core::StrCat("sinfo printed ", core::Quote(line),
                                                ", not PARTITION NODES CPUS MEMORY"));
    const bool is_default = name.ends_with('*');
    if (is_default) name.pop_back();
    if (partition.empty() ? !is_default : name != partition) continue;
    std::int64_t n = 0, c = 0, m = 0;
    if (!Number(nodes, &n) || !Number(cpus, &c) || !Number(mem, &m))
      return core::InvalidArgument(core::StrCat("sinfo printed ", core::Quote(line),
                                                ", not PARTITION NODES CPUS MEMORY"));
    found = true;
    total.milli_cpus += n * c * 1000;
    total.memory_bytes += n * m * (std::int64_t{1} << 20);
  }
  if (!found)
    return core::NotFound(partition.empty()
                              ? std::string("sinfo lists no default partition")
                              : core::StrCat("sinfo lists no partition ", core::Quote(partition)));
  return total;
}

}  // namespace sluss::daemon
