#include "airlock/internal/csv_reader.h"

#include "core/strings.h"

namespace sluss::airlock::internal {

using core::StrCat;

bool CsvReader::Fail(std::string message) {
  error_ = StrCat("line ", line_, ": ", message);
  stopped_ = true;
  return false;
}

bool CsvReader::EndField() {
  if (row_.size() >= max_columns_) {
    return Fail(StrCat("more than ", max_columns_, " fields in a row"));
  }
  row_.push_back(std::move(field_));
  field_.clear();
  return true;
}

bool CsvReader::EndRow(const RowFn& on_row) {
  bool go_on = on_row(row_, row_line_);
  row_.clear();
  row_started_ = false;
  if (!go_on) stopped_ = true;
  return go_on;
}

std::optional<bool> CsvReader::FieldEnd(char c, const RowFn& on_row) {
  if (c == delimiter_) {
    if (!EndField()) return false;
    state_ = State::kFieldStart;
    return true;
  }
  if (c == '\n') {
    if (!EndField() || !EndRow(on_row)) return false;
    ++line_;
    state_ = State::kFieldStart;
    return true;
  }
  if (c == '\r') {
    state_ = State::kCr;  // the field ends with the line, at the '\n'
    return true;
  }
  return std::nullopt;
}

bool CsvReader::Feed(std::string_view chunk, const RowFn& on_row) {
  if (stopped_) return false;
  for (char c : chunk) {
    if (!row_started_) {
      row_started_ = true;
      row_line_ = line_;
    }
    switch (state_) {
      case State::kFieldStart:
      case State::kUnquoted:
        if (auto ended = FieldEnd(c, on_row)) {
          if (!*ended) return false;
        } else if (c == '"') {
          if (state_ == State::kUnquoted) {
            return Fail("a quote inside an unquoted field; quote the whole field and double the quote");
          }
          quote_line_ = line_;
          state_ = State::kQuoted;
        } else {
          field_.push_back(c);
          state_ = State::kUnquoted;
        }
        break;
      case State::kQuoted:
        if (c == '"') {
          state_ = State::kQuoteInQuoted;
        } else {
          if (c == '\n') ++line_;
          field_.push_back(c);
        }
        break;
      case State::kQuoteInQuoted:
        if (c == '"') {
          field_.push_back('"');
          state_ = State::kQuoted;
        } else if (auto ended = FieldEnd(c, on_row)) {
          if (!*ended) return false;
        } else {
          return Fail("text after a closing quote");
        }
        break;
      case State::kCr:
        if (c != '\n') return Fail("a carriage return that does not end a line");
        if (!EndField() || !EndRow(on_row)) return false;
        ++line_;
        state_ = State::kFieldStart;
        break;
    }
    if (field_.size() > max_cell_bytes_) {
      return Fail(StrCat("a field longer than ", max_cell_bytes_, " bytes"));
    }
  }
  return true;
}

bool CsvReader::Finish(const RowFn& on_row) {
  if (stopped_) return false;
  if (state_ == State::kQuoted) {
    line_ = quote_line_;
    return Fail("a quoted field that never ends");
  }
  if (!row_started_) return true;  // a final line break, or no input at all
  if (!EndField() || !EndRow(on_row)) return false;
  return true;
}

}  // namespace sluss::airlock::internal
