#include "airlock/output_check.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "airlock/internal/csv_reader.h"
#include "core/strings.h"

namespace sluss::airlock {

using core::StrCat;

std::string_view ToString(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPass: return "pass";
    case Outcome::kReview: return "review";
    case Outcome::kFail: return "fail";
  }
  return "review";
}

namespace {

std::string Extension(std::string_view path) {
  auto slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "";
  std::string ext(name.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

bool IsMissing(std::string_view cell) {
  if (cell.empty()) return true;
  std::string lower(cell);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "na" || lower == "nan" || lower == "null" || lower == "n/a";
}

// A finite number written as a whole (no spaces, no leading '+').
std::optional<double> ParseNumber(std::string_view cell) {
  if (cell.empty()) return std::nullopt;
  const char* end = cell.data() + cell.size();
  std::int64_t i = 0;
  auto [p, ec] = std::from_chars(cell.data(), end, i);
  if (ec == std::errc{} && p == end) return static_cast<double>(i);
  double d = 0;
  auto [q, ec2] = std::from_chars(cell.data(), end, d, std::chars_format::general);
  if (ec2 == std::errc{} && q == end && std::isfinite(d)) return d;
  return std::nullopt;
}

// A column that no declaration names, by its place: its name is the job's
// text, which reaches researchers only through a release.
std::string ColumnLabel(std::size_t i) { return StrCat("#", i + 1); }

bool IsWhole(double d) { return std::floor(d) == d; }

// What a spreadsheet would run as a formula (OWASP's CSV injection list).
bool LooksLikeFormula(std::string_view cell) {
  if (cell.empty()) return false;
  char c = cell[0];
  if (c == '=' || c == '@' || c == '\t' || c == '\r') return true;
  if (c == '+' || c == '-') return !ParseNumber(cell.substr(c == '+' ? 1 : 0)).has_value();
  return false;
}

struct ColumnState {
  ColumnSummary summary;
  bool any_value = false, all_integer = true, all_number = true, all_div5 = true;
  bool is_count = false;
};

}  // namespace

struct FileCheck::Impl {
  FileReport report;
  core::OutputControls controls;
  CheckParams params;
  bool table = false, png = false, text = false, log = false, done = false;
  std::string utf8_carry;   // a character cut at a chunk's end (log)
  std::int64_t text_lines = 1;
  std::int64_t fed = 0;
  std::string png_head;
  // PNG's chunks, read as they stream by: the 8 bytes of a chunk's length
  // and type in `png_head`, then `png_skip` bytes of its data and CRC.
  std::int64_t png_skip = 0;
  bool png_ended = false;  // IEND seen: nothing may follow
  std::string text_carry;  // a UTF-8 character cut at a chunk's end
  std::optional<internal::CsvReader> csv;
  bool header_read = false;
  bool bom_decided = false;
  std::string bom_buf;
  std::vector<ColumnState> columns;
  // (rule, column) -> index into report.findings, so one finding counts cells.
  std::map<std::pair<std::string, std::string>, std::size_t> index;

  void Add(Outcome outcome, std::string rule, std::string column, std::int64_t line,
           std::string message) {
    auto key = std::pair{rule, column};
    if (auto it = index.find(key); it != index.end() && !column.empty()) {
      ++report.findings[it->second].cells;
      return;
    }
    index[key] = report.findings.size();
    std::int64_t cells = !column.empty() && line > 0 ? 1 : 0;
    report.findings.push_back(
        {outcome, std::move(rule), std::move(column), cells, line, std::move(message)});
  }

  bool Header(std::span<const std::string> cells, std::size_t line) {
    std::map<std::string, std::size_t> seen;  // name -> its column (1-based)
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string& name = cells[i];
      if (core::FindInvalidUtf8(name) != std::string::npos) {
        Add(Outcome::kFail, "malformed", "", static_cast<std::int64_t>(line),
            StrCat("line ", line, ": the header is not valid UTF-8"));
        return false;
      }
      if (auto [it, fresh] = seen.emplace(name, i + 1); !fresh) {
        Add(Outcome::kFail, "malformed", "", static_cast<std::int64_t>(line),
            StrCat("line ", line, ": columns ", it->second, " and ", i + 1,
                   " have the same name in the header; a checker could not tell the two apart"));
        return false;
      }
      if (LooksLikeFormula(name)) {
        Add(Outcome::kFail, "formula", ColumnLabel(i), static_cast<std::int64_t>(line),
            StrCat("the name of column ", i + 1, " starts like a spreadsheet formula (=, +, "
                   "-, @, tab or carriage return) on line ", line));
      }
      ColumnState c;
      c.summary.name = name;
      columns.push_back(std::move(c));
    }
    std::vector<std::string_view> names(cells.begin(), cells.end());
    for (const auto& count : controls.counts) {
      auto it = std::find(cells.begin(), cells.end(), count);
      if (it == cells.end()) {
        std::string hint = core::ClosestMatch(count, names);
        // A column name is the job's text: one only a typo away is named.
        if (hint.size() > count.size() + 2) hint.clear();
        Add(Outcome::kFail, "count_column", count, 0,
            StrCat("column ", core::Quote(count),
                   " is declared as counts in sluss.yaml but is not in the header",
                   hint.empty() ? "" : StrCat("; did you mean ", core::Quote(hint), "?")));
        continue;
      }
      columns[static_cast<std::size_t>(it - cells.begin())].is_count = true;
    }
    return true;
  }

  void CountCell(const std::string& column, double v, std::int64_t line) {
    if (v < 0 || !IsWhole(v)) {
      Add(Outcome::kReview, "not_a_count", column, line,
          StrCat("column ", core::Quote(column),
                 ": a cell that is not a whole number of 0 or more, first on line ", line));
      return;
    }
    bool zeros = controls.zeros_disclosive.value_or(params.zeros_disclosive);
    if (v == 0) {
      if (zeros) {
        Add(Outcome::kFail, "zero", column, line,
            StrCat("column ", core::Quote(column), ": a zero count, first on line ", line,
                   "; zeros can disclose that everyone or no one in a group has an "
                   "attribute (declare zeros: allowed if they are structural)"));
      }
    } else if (v < static_cast<double>(params.threshold)) {
      Add(Outcome::kFail, "threshold", column, line,
          StrCat("column ", core::Quote(column), ": a count below the threshold ",
                 params.threshold, ", first on line ", line,
                 "; suppress or combine small groups"));
    }
    if (controls.round > 0 && std::fmod(v, controls.round) != 0) {
      Add(Outcome::kFail, "rounding", column, line,
          StrCat("column ", core::Quote(column), ": a count that is not a multiple of ",
                 controls.round, " as sluss.yaml declares, first on line ", line));
    }
  }

  bool Row(std::span<const std::string> cells, std::size_t line_u) {
    auto line = static_cast<std::int64_t>(line_u);
    if (!header_read) {
      header_read = true;
      return Header(cells, line_u);
    }
    if (cells.size() != columns.size()) {
      Add(Outcome::kFail, "malformed", "", line,
          StrCat("line ", line, ": ", cells.size(), " fields where the header has ",
                 columns.size()));
      return false;
    }
    ++report.rows;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string& cell = cells[i];
      ColumnState& c = columns[i];
      if (core::FindInvalidUtf8(cell) != std::string::npos) {
        Add(Outcome::kFail, "malformed", "", line,
            StrCat("line ", line, ": a field that is not valid UTF-8"));
        return false;
      }
      ++c.summary.cells;
      if (IsMissing(cell)) {
        ++c.summary.missing;
        continue;
      }
      c.any_value = true;
      auto v = ParseNumber(cell);
      if (!v) {
        c.all_number = c.all_integer = false;
        if (LooksLikeFormula(cell)) {
          Add(Outcome::kFail, "formula", ColumnLabel(i), line,
              StrCat("column ", i + 1,
                     ": a cell that starts like a spreadsheet formula (=, +, -, @, tab or "
                     "carriage return), first on line ", line));
        }
        if (c.is_count) {
          Add(Outcome::kReview, "not_a_count", c.summary.name, line,
              StrCat("column ", core::Quote(c.summary.name),
                     ": a cell that is not a number, first on line ", line));
        }
        continue;
      }
      auto& s = c.summary;
      s.min = s.min ? std::min(*s.min, *v) : *v;
      s.max = s.max ? std::max(*s.max, *v) : *v;
      if (*v > 0) s.min_above_zero = s.min_above_zero ? std::min(*s.min_above_zero, *v) : *v;
      s.sum += *v;
      if (!IsWhole(*v)) c.all_integer = false;
      if (!IsWhole(*v) || std::fmod(*v, 5) != 0) c.all_div5 = false;
      if (c.is_count) CountCell(s.name, *v, line);
    }
    return true;
  }

  // A text type (txt, md, json, svg) is read as a checker reads it: a
  // file that is not UTF-8 text (a zip, an image, a binary renamed) fails.
  void FeedText(std::string_view chunk) {
    std::string buf = std::move(text_carry);
    buf.append(chunk);
    text_carry.clear();
    // Hold back a character whose bytes continue in the next chunk.
    std::size_t keep = 0;
    for (std::size_t back = 1; back <= 3 && back <= buf.size(); ++back) {
      auto b = static_cast<unsigned char>(buf[buf.size() - back]);
      if ((b & 0xc0) == 0x80) continue;
      std::size_t len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      if (len > back) keep = back;
      break;
    }
    text_carry = buf.substr(buf.size() - keep);
    buf.resize(buf.size() - keep);
    NotText(buf);
  }
  void NotText(std::string_view bytes) {
    bool control = std::any_of(bytes.begin(), bytes.end(), [](char ch) {
      auto b = static_cast<unsigned char>(ch);
      return (b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f;
    });
    if (control || core::FindInvalidUtf8(bytes) != std::string_view::npos) {
      Add(Outcome::kFail, "signature", "", 0,
          StrCat("the file is named .", report.type, " but is not UTF-8 text (it has bytes "
                 "a text viewer would not show); a checker could not read all of it"));
      done = true;
    }
  }

  // PNG: the signature, then chunks up to IEND and nothing after it (bytes
  // appended to an image are not in the picture a checker looks at); a
  // chunk that holds no pixels a viewer shows (text, EXIF, an ICC profile,
  // a private chunk) is left to the checker.
  void FeedPng(std::string_view chunk) {
    static constexpr std::string_view kSignature("\x89PNG\r\n\x1a\n", 8);
    while (!chunk.empty() && !done) {
      if (png_skip > 0) {
        auto n = static_cast<std::size_t>(std::min<std::int64_t>(png_skip, static_cast<std::int64_t>(chunk.size())));
        png_skip -= static_cast<std::int64_t>(n);
        chunk.remove_prefix(n);
        continue;
      }
      if (png_ended) {
        Add(Outcome::kFail, "hidden_data", "", 0,
            "the file has bytes after the image's end (IEND) that no viewer shows");
        done = true;
        return;
      }
      constexpr std::size_t want = 8;  // the signature, or a chunk's length and type
      std::size_t take = std::min(chunk.size(), want - png_head.size());
      png_head.append(chunk.substr(0, take));
      chunk.remove_prefix(take);
      if (png_head.size() < want) return;
      if (!fed_png_signature) {
        if (png_head != kSignature) {
          done = true;  // Finish says why
          return;
        }
        fed_png_signature = true;
        png_head.clear();
        continue;
      }
      auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(png_head[i])); };
      const std::uint32_t length = byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
      const std::string type = png_head.substr(4, 4);
      png_head.clear();
      static const std::set<std::string> kShown = {"IHDR", "PLTE", "IDAT", "IEND", "tRNS", "gAMA",
                                                   "cHRM", "sRGB", "bKGD", "pHYs", "sBIT", "tIME"};
      if (!kShown.count(type) && !png_review_added) {
        png_review_added = true;
        Add(Outcome::kReview, "hidden_data", "", 0,
            "the image has chunks that no viewer shows (text, EXIF, a colour profile or a "
            "private chunk); a checker must read them by hand");
      }
      png_skip = static_cast<std::int64_t>(length) + 4;
      if (type == "IEND") png_ended = true;
      if (!png_first_chunk_seen && type != "IHDR") {
        Add(Outcome::kFail, "signature", "", 0, "the file is named .png but is not a PNG image");
        done = true;
        return;
      }
      png_first_chunk_seen = true;
    }
  }
  bool fed_png_signature = false, png_first_chunk_seen = false, png_review_added = false;

  void FeedTable(std::string_view chunk) {
    // A UTF-8 byte order mark is not part of the first column's name; it may
    // arrive split over chunks.
    static constexpr std::string_view kBom = "\xEF\xBB\xBF";
    std::string head;
    if (!bom_decided) {
      std::size_t take = std::min(chunk.size(), kBom.size() - bom_buf.size());
      bom_buf.append(chunk.substr(0, take));
      chunk.remove_prefix(take);
      if (kBom.starts_with(bom_buf) && bom_buf.size() < kBom.size()) return;
      bom_decided = true;
      if (bom_buf != kBom) head = std::move(bom_buf);
      bom_buf.clear();
      if (!head.empty()) {
        head.append(chunk);
        chunk = head;
      }
    }
    auto on_row = [this](std::span<const std::string> cells, std::size_t line) {
      return Row(cells, line);
    };
    if (!csv->Feed(chunk, on_row)) done = true;
  }

  // A job's log: valid UTF-8 with no NUL byte, else fail at the first such
  // line (the bytes would hide or garble what a checker reads).
  void FeedLog(std::string_view chunk) {
    std::string buf = std::move(utf8_carry);
    utf8_carry.clear();
    buf.append(chunk);
    std::size_t end = buf.size();
    for (std::size_t back = 1; back <= 3 && back <= buf.size(); ++back) {
      auto b = static_cast<unsigned char>(buf[buf.size() - back]);
      if ((b & 0xC0) == 0x80) continue;  // a continuation byte: look further back
      const std::size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
      if (need > back) end = buf.size() - back;
      break;
    }
    std::string_view whole(buf.data(), end);
    std::size_t bad = std::min(core::FindInvalidUtf8(whole), whole.find('\0'));
    if (bad != std::string_view::npos) {
      const auto line = text_lines + std::count(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
      Add(Outcome::kFail, "not_text", "", 0,
          StrCat("line ", line, " is not text (not valid UTF-8, or a NUL byte); a log must be "
                 "text a checker can read"));
      done = true;
      return;
    }
    text_lines += std::count(whole.begin(), whole.end(), '\n');
    utf8_carry = buf.substr(end);
  }
};

FileCheck::FileCheck(std::string path, std::int64_t size, core::OutputControls controls,
                     CheckParams params)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.report.path = std::move(path);
  m.report.size = size;
  m.report.type = Extension(m.report.path);
  m.controls = std::move(controls);
  m.params = std::move(params);
  const auto& allowed = m.params.allowed_types;
  // A job's log in a release request (log/job-N/stdout.log) is read as text.
  const bool log = m.report.type == "log";
  if (!log && std::find(allowed.begin(), allowed.end(), m.report.type) == allowed.end()) {
    m.Add(Outcome::kReview, "file_type", "", 0,
          m.report.type.empty()
              ? std::string("a file without an extension; a checker must look at it by hand")
              : StrCat("files of type ", core::Quote(m.report.type),
                       " are not on the list the checks can read (",
                       core::Join(allowed, ", "), "); a checker must look at it by hand"));
    m.done = true;
  } else if (size > m.params.max_file_bytes) {
    m.Add(Outcome::kFail, "size", "", 0,
          StrCat("the file is ", size, " bytes, over the cap of ", m.params.max_file_bytes,
                 "; release summaries, not data"));
    m.done = true;
  } else if (log) {
    m.log = true;
  } else if (m.report.type == "csv" || m.report.type == "tsv") {
    m.table = true;
    m.csv.emplace(m.report.type == "csv" ? ',' : '\t', m.params.max_cell_bytes,
                  m.params.max_columns);
  } else if (m.report.type == "png") {
    m.png = true;
  } else {
    m.text = true;  // text, markdown, JSON, SVG: read as UTF-8 text
  }
}

FileCheck::~FileCheck() = default;

bool FileCheck::wants_bytes() const { return !impl_->done; }

void FileCheck::Feed(std::string_view chunk) {
  Impl& m = *impl_;
  if (m.done || chunk.empty()) return;
  m.fed += static_cast<std::int64_t>(chunk.size());
  if (m.fed > m.params.max_file_bytes) {
    m.Add(Outcome::kFail, "size", "", 0,
          StrCat("the file has more than ", m.params.max_file_bytes,
                 " bytes, over the cap; release summaries, not data"));
    m.done = true;
    return;
  }
  if (m.png) m.FeedPng(chunk);
  if (m.text) m.FeedText(chunk);
  if (m.table) m.FeedTable(chunk);
  if (m.log) m.FeedLog(chunk);
}

FileReport FileCheck::Finish() {
  Impl& m = *impl_;
  if (m.png && !m.fed_png_signature) {
    m.Add(Outcome::kFail, "signature", "", 0,
          "the file is named .png but does not start with PNG's signature");
  } else if (m.png && !m.done && (!m.png_ended || m.png_skip > 0)) {
    m.Add(Outcome::kFail, "signature", "", 0,
          "the file is named .png but its image ends before its last chunk (IEND)");
  }
  if (m.text && !m.done && !m.text_carry.empty()) m.NotText(m.text_carry);  // a cut character
  if (m.table) {
    if (!m.bom_decided && !m.done) {  // fewer than 3 bytes, all a prefix of the mark
      m.bom_decided = true;
      std::string rest = std::move(m.bom_buf);
      m.FeedTable(rest);
    }
    bool ok = !m.csv->stopped() &&
              m.csv->Finish([&m](std::span<const std::string> cells, std::size_t line) {
                return m.Row(cells, line);
              });
    if (!ok && !m.csv->error().empty()) {
      m.Add(Outcome::kFail, "malformed", "", 0,
            StrCat("not a well-formed ", m.report.type == "csv" ? "CSV" : "TSV", " file: ",
                   m.csv->error()));
    }
    if (!m.header_read && m.report.findings.empty()) {
      m.Add(Outcome::kReview, "empty", "", 0, "the table is empty: no header, no rows");
    }
    for (auto& c : m.columns) {
      ColumnSummary s = std::move(c.summary);
      s.type = !c.any_value ? "empty" : !c.all_number ? "text" : c.all_integer ? "integer" : "number";
      if (!c.all_number) s.min = s.max = s.min_above_zero = std::nullopt, s.sum = 0;
      s.divisible_by_5 = c.any_value && c.all_number && c.all_div5;
      m.report.columns.push_back(std::move(s));
    }
  }
  if (m.log && !m.done && !m.utf8_carry.empty()) {
    m.Add(Outcome::kFail, "not_text", "", 0,
          StrCat("line ", m.text_lines, " ends in a cut UTF-8 character; a log must be text a "
                 "checker can read"));
  }
  for (const auto& f : m.report.findings) m.report.outcome = std::max(m.report.outcome, f.outcome);
  m.done = true;
  return std::move(m.report);
}

FileReport CheckBytes(std::string path, std::string_view bytes,
                      const core::OutputControls& controls, const CheckParams& params) {
  FileCheck check(std::move(path), static_cast<std::int64_t>(bytes.size()), controls, params);
  check.Feed(bytes);
  return check.Finish();
}

nlohmann::json ToJson(const FileReport& r, const CheckParams& params) {
  using nlohmann::json;
  json findings = json::array();
  for (const auto& f : r.findings) {
    json j = {{"outcome", ToString(f.outcome)}, {"rule", f.rule}, {"message", f.message}};
    if (!f.column.empty()) j["column"] = f.column;
    if (f.cells > 0) j["cells"] = f.cells;
    if (f.first_line > 0) j["first_line"] = f.first_line;
    findings.push_back(std::move(j));
  }
  json columns = json::array();
  for (const auto& c : r.columns) {
    auto num = [](const std::optional<double>& d) { return d ? json(*d) : json(nullptr); };
    columns.push_back({{"name", c.name}, {"type", c.type}, {"cells", c.cells},
                       {"missing", c.missing}, {"min", num(c.min)},
                       {"min_above_zero", num(c.min_above_zero)}, {"max", num(c.max)},
                       {"sum", c.type == "integer" || c.type == "number" ? json(c.sum) : json(nullptr)},
                       {"divisible_by_5", c.divisible_by_5}});
  }
  json j = {{"tool", kToolName}, {"version", kToolVersion}, {"parameters", ToJson(params)},
            {"path", r.path}, {"size", r.size}, {"type", r.type},
            {"outcome", ToString(r.outcome)}, {"findings", std::move(findings)}};
  if (r.type == "csv" || r.type == "tsv") {
    j["rows"] = r.rows;
    j["columns"] = std::move(columns);
  }
  return j;
}

nlohmann::json WithoutSummaries(nlohmann::json report) {
  if (report.is_object()) report.erase("columns");
  return report;
}

}  // namespace sluss::airlock
