#pragma once

// The automatic disclosure checks of one output file: pure, no I/O. The
// caller feeds the file's bytes (in chunks of any size) and gets a report:
// pass, fail or review, with the reasons, and for tables a summary of each
// column for the human checker. Reasons name lines and columns, never a
// cell's value, since reports are shown to every member of the project.
//
// What is checked, by file type (the extension, case-insensitive):
// - not in CheckParams::allowed_types: review (the file is not read);
// - larger than max_file_bytes: fail (not read);
// - png: the PNG signature and whole chunks up to IEND, else fail; bytes
//   after IEND fail (hidden_data); a chunk a viewer does not show (text,
//   EXIF, a colour profile, a private one) is review;
// - txt, md, json, svg: UTF-8 text without control characters (but tab,
//   newline, carriage return), else fail: a renamed binary is not text;
// - log (a job's full log added to a request, whatever allowed_types says):
//   valid UTF-8 without NUL bytes, else fail (rule not_text);
// - csv, tsv: a strict RFC 4180 read (malformed: fail, with the line); every
//   cell valid UTF-8; formula injection (a text cell starting with = + - @,
//   a tab or a carriage return, which spreadsheets run): fail; each declared
//   count column present (else fail), and each of its cells a whole number
//   >= 0 (else review), not below the threshold (fail), not zero where zeros
//   are disclosive (fail), a multiple of the declared rounding (fail).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "airlock/check_params.h"
#include "core/pipeline.h"

namespace sluss::airlock {

enum class Outcome { kPass, kReview, kFail };  // in order of severity
std::string_view ToString(Outcome outcome);

struct Finding {
  Outcome outcome = Outcome::kPass;
  std::string rule;     // file_type, size, signature, hidden_data, malformed, formula,
                        // count_column, threshold, zero, rounding, not_a_count, empty,
                        // not_text
  std::string column;   // "" when about the whole file
  std::int64_t cells = 0;      // how many cells broke the rule (0: about the file)
  std::int64_t first_line = 0; // line of the first such cell (0: none)
  std::string message;  // a sentence a researcher can act on
};

struct ColumnSummary {
  std::string name;
  std::string type = "empty";  // integer, number, text, empty (every cell missing)
  std::int64_t cells = 0;
  std::int64_t missing = 0;    // empty, NA, NaN, NULL
  std::optional<double> min, min_above_zero, max;
  double sum = 0;
  // Every number a whole multiple of 5 (false when there is no number).
  bool divisible_by_5 = false;
};

struct FileReport {
  std::string path;
  std::int64_t size = 0;
  std::string type;  // the extension, lowercased
  Outcome outcome = Outcome::kPass;
  std::vector<Finding> findings;
  std::int64_t rows = 0;  // data rows read (tables)
  std::vector<ColumnSummary> columns;
};

class FileCheck {
 public:
  // `size` is the file's size as recorded (the cap is checked against it and
  // again against the bytes fed). Borrows nothing.
  FileCheck(std::string path, std::int64_t size, core::OutputControls controls,
            CheckParams params = {});
  ~FileCheck();
  FileCheck(const FileCheck&) = delete;
  FileCheck& operator=(const FileCheck&) = delete;

  // False when the verdict needs no more bytes (a type not read, the cap
  // passed, a malformed table): the caller may stop reading.
  bool wants_bytes() const;
  void Feed(std::string_view chunk);
  FileReport Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The whole file at once (tests, small files).
FileReport CheckBytes(std::string path, std::string_view bytes,
                      const core::OutputControls& controls, const CheckParams& params = {});

// The stored form: {"tool", "version", "parameters", "path", "size", "type",
// "outcome", "findings": [...], "rows", "columns": [...]}.
nlohmann::json ToJson(const FileReport& report, const CheckParams& params);

// A stored report as everyone but output checkers, stewards and admins sees
// it: without "columns". The column summaries (names, min, max, sum) are
// the job's data, for the checkers who review the file; shown to its
// researcher they would be a way out around the review.
nlohmann::json WithoutSummaries(nlohmann::json report);

}  // namespace sluss::airlock
