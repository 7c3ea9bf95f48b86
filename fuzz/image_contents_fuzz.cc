// Fuzz target: the parsers of what an image holds (dpkg status, Python
// METADATA, R DESCRIPTION, the interpreter of a run line) read files an
// image's builder wrote; they must never crash, hang or leak, and what they
// return must be whole: every package named, versioned and sorted.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <tuple>

#include "core/image_contents.h"

namespace {

void CheckPackage(const sluss::core::ImagePackage& p) {
  if (p.name.empty() || p.version.empty() || p.ecosystem.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto deb = sluss::core::ParseDpkgStatus(text);
  for (std::size_t i = 0; i < deb.size(); ++i) {
    CheckPackage(deb[i]);
    if (i > 0 && std::tie(deb[i - 1].name, deb[i - 1].version) > std::tie(deb[i].name, deb[i].version))
      std::abort();
  }
  if (auto p = sluss::core::ParsePythonMetadata(text)) CheckPackage(*p);
  if (auto p = sluss::core::ParseRDescription(text)) CheckPackage(*p);
  if (auto i = sluss::core::InterpreterOf(text)) {
    if (*i != "python3" && *i != "python" && *i != "Rscript" && *i != "R") std::abort();
  }
  return 0;
}
