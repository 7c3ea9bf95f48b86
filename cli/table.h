#pragma once

// Aligned text tables for the CLI's human output.

#include <iosfwd>
#include <string>
#include <vector>

namespace sluss::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Columns padded to their widest cell (in UTF-8 code points), two spaces
  // apart, no trailing spaces.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace sluss::cli
