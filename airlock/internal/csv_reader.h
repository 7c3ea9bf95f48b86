#pragma once

// A streaming RFC 4180 reader: bytes in, rows out, memory bounded by the
// longest row it accepts. It is strict on purpose: a file that two programs
// could read differently (a quote inside an unquoted field, text after a
// closing quote, a lone carriage return, an unterminated quote) is an error,
// since the checks must see the same cells that a spreadsheet shows the
// output checker.

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluss::airlock::internal {

class CsvReader {
 public:
  // Called with each complete row and the line it started on (1-based).
  // Returns false to stop reading.
  using RowFn = std::function<bool(std::span<const std::string> cells, std::size_t line)>;

  CsvReader(char delimiter, std::size_t max_cell_bytes, std::size_t max_columns)
      : delimiter_(delimiter), max_cell_bytes_(max_cell_bytes), max_columns_(max_columns) {}

  // Reads `chunk`, calling `on_row` for every row it completes. Returns false
  // once the input is malformed (error() says why) or `on_row` said stop;
  // later calls then do nothing.
  bool Feed(std::string_view chunk, const RowFn& on_row);
  // The end of the input: completes the last row (a final line break is
  // optional). Returns false if the input ended inside a quoted field.
  bool Finish(const RowFn& on_row);

  const std::string& error() const { return error_; }
  bool stopped() const { return stopped_; }

 private:
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted, kCr };
  bool Fail(std::string message);
  bool EndField();
  bool EndRow(const RowFn& on_row);
  // `c` after a field, unquoted or closed: a delimiter, a newline or a CR
  // ends it (true: go on; false: stop or fail); nullopt for anything else.
  std::optional<bool> FieldEnd(char c, const RowFn& on_row);

  char delimiter_;
  std::size_t max_cell_bytes_;
  std::size_t max_columns_;
  State state_ = State::kFieldStart;
  std::string field_;
  std::vector<std::string> row_;
  std::size_t line_ = 1;      // the line being read
  std::size_t row_line_ = 1;  // the line the current row started on
  std::size_t quote_line_ = 1;
  bool row_started_ = false;
  bool stopped_ = false;
  std::string error_;
};

}  // namespace sluss::airlock::internal
