#pragma once

#include <string>
#include <vector>

namespace sluss::core {

// A position in a text file, 1-based, as editors and compilers print it.
struct Position {
  int line = 1;
  int column = 1;
  auto operator<=>(const Position&) const = default;
};

// One problem found in a file: printed as "FILE:LINE:COL: message", the form
// that editors and CI logs turn into links.
struct Diagnostic {
  std::string file;
  Position pos;
  std::string message;

  std::string ToString() const;
};

using Diagnostics = std::vector<Diagnostic>;

}  // namespace sluss::core
