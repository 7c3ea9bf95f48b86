#include "airlock/output_check.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace sluss::airlock;
using sluss::core::OutputControls;

namespace {

OutputControls Counts(std::vector<std::string> columns, int round = 0) {
  OutputControls c;
  c.counts = std::move(columns);
  c.round = round;
  return c;
}

const Finding* FindRule(const FileReport& r, std::string_view rule) {
  for (const auto& f : r.findings)
    if (f.rule == rule) return &f;
  return nullptr;
}

}  // namespace

TEST_CASE("A table whose declared counts are all at or above the threshold passes") {
  FileReport r = CheckBytes("output/table1.csv", "group,n\na,10\nb,25\nc,100\n", Counts({"n"}, 5));
  CHECK(r.outcome == Outcome::kPass);
  CHECK(r.findings.empty());
  CHECK(r.rows == 3);
}

TEST_CASE("A count below the threshold fails, naming the column and the first line but no value") {
  FileReport r = CheckBytes("output/t.csv", "group,n\na,10\nb,3\nc,7\n", Counts({"n"}));
  CHECK(r.outcome == Outcome::kFail);
  const Finding* f = FindRule(r, "threshold");
  REQUIRE(f);
  CHECK(f->column == "n");
  CHECK(f->cells == 2);
  CHECK(f->first_line == 3);
  CHECK(f->message ==
        "column 'n': a count below the threshold 10, first on line 3; suppress or combine small groups");
  CHECK(f->message.find('7') == std::string::npos);
}

TEST_CASE("The threshold is a parameter: 9 fails at 10 and passes at 5") {
  std::string table = "g,n\na,9\n";
  CHECK(CheckBytes("t.csv", table, Counts({"n"})).outcome == Outcome::kFail);
  CheckParams low;
  low.threshold = 5;
  CHECK(CheckBytes("t.csv", table, Counts({"n"}), low).outcome == Outcome::kPass);
  CHECK(CheckBytes("t.csv", "g,n\na,10\n", Counts({"n"})).outcome == Outcome::kPass);
}

TEST_CASE("Only declared count columns are held to the threshold") {
  CHECK(CheckBytes("t.csv", "age,n\n3,20\n", Counts({"n"})).outcome == Outcome::kPass);
  CHECK(CheckBytes("t.csv", "age,n\n3,20\n", {}).outcome == Outcome::kPass);
}

TEST_CASE("Zeros fail where disclosive, the default, and pass where declared allowed") {
  FileReport r = CheckBytes("t.csv", "g,n\na,0\nb,20\n", Counts({"n"}));
  CHECK(r.outcome == Outcome::kFail);
  REQUIRE(FindRule(r, "zero"));
  CHECK(FindRule(r, "zero")->first_line == 2);
  CHECK_FALSE(FindRule(r, "threshold"));
  OutputControls allowed = Counts({"n"});
  allowed.zeros_disclosive = false;
  CHECK(CheckBytes("t.csv", "g,n\na,0\nb,20\n", allowed).outcome == Outcome::kPass);
  CheckParams p;
  p.zeros_disclosive = false;
  CHECK(CheckBytes("t.csv", "g,n\na,0\n", Counts({"n"}), p).outcome == Outcome::kPass);
}

TEST_CASE("Counts not rounded as declared fail") {
  FileReport r = CheckBytes("t.csv", "g,n\na,15\nb,23\nc,40\nd,12\n", Counts({"n"}, 5));
  CHECK(r.outcome == Outcome::kFail);
  const Finding* f = FindRule(r, "rounding");
  REQUIRE(f);
  CHECK(f->cells == 2);
  CHECK(f->first_line == 3);
  CHECK(f->message == "column 'n': a count that is not a multiple of 5 as sluss.yaml declares, first on line 3");
  CHECK(CheckBytes("t.csv", "g,n\na,23\n", Counts({"n"})).outcome == Outcome::kPass);
}

TEST_CASE("Negative, fractional or textual cells in a count column need review") {
  for (std::string cell : {"-20", "12.5", "many", "<10"}) {
    INFO(cell);
    FileReport r = CheckBytes("t.csv", "g,n\na," + cell + "\n", Counts({"n"}));
    CHECK(r.outcome == Outcome::kReview);
    CHECK(FindRule(r, "not_a_count"));
  }
  // Missing cells are not counts and not disclosive; they are counted.
  FileReport r = CheckBytes("t.csv", "g,n\na,\nb,NA\nc,20\n", Counts({"n"}));
  CHECK(r.outcome == Outcome::kPass);
  CHECK(r.columns[1].missing == 2);
}

TEST_CASE("A declared count column missing from the header fails with a suggestion") {
  FileReport r = CheckBytes("t.csv", "group,count\na,20\n", Counts({"cuont", "n"}));
  CHECK(r.outcome == Outcome::kFail);
  REQUIRE(r.findings.size() == 2);
  CHECK(r.findings[0].message ==
        "column 'cuont' is declared as counts in sluss.yaml but is not in the header; did you mean 'count'?");
  CHECK(r.findings[1].message == "column 'n' is declared as counts in sluss.yaml but is not in the header");
}

TEST_CASE("Cells a spreadsheet would run as formulas fail, in any column") {
  for (std::string cell : {"=cmd|' /C calc'!A0", "+cmd|x", "-2+3+cmd|x", "@SUM(A1)",
                           "\"\tx\"", "=1+1"}) {
    INFO(cell);
    FileReport r = CheckBytes("t.csv", "name,n\n" + cell + ",20\n", Counts({"n"}));
    CHECK(r.outcome == Outcome::kFail);
    const Finding* f = FindRule(r, "formula");
    REQUIRE(f);
    CHECK(f->column == "#1");
    CHECK(f->first_line == 2);
  }
  // Signed numbers are numbers, not formulas.
  CHECK(CheckBytes("t.csv", "x\n-3.5\n+2\n", {}).outcome == Outcome::kPass);
  // A formula in the header is caught too.
  CHECK(FindRule(CheckBytes("t.csv", "=HYPERLINK(\"x\"),n\n1,20\n", {}), "formula") == nullptr);
  CHECK(FindRule(CheckBytes("t.csv", "\"=HYPERLINK(\"\"x\"\")\",n\n1,20\n", {}), "formula"));
}

TEST_CASE("Reasons never carry a column name the job wrote, only its place") {
  // A researcher reads the reasons before any review: a header made of
  // patient rows must not come back through them.
  const std::string secret = "PATIENT-4242 born 1941";
  for (std::string text : {"=" + secret + ",n\n1,20\n", "\"" + secret + "\",n\n=cmd,20\n",
                           "count " + secret + ",n\n1,20\n", secret + "," + secret + "\n1,2\n"}) {
    INFO(text);
    FileReport r = CheckBytes("t.csv", text, Counts({"count"}));
    CHECK(r.outcome == Outcome::kFail);
    for (const Finding& f : r.findings) {
      CHECK(f.message.find("PATIENT") == std::string::npos);
      CHECK(f.column.find("PATIENT") == std::string::npos);
    }
    // The summaries name the columns, for the checkers; researchers never get them.
    nlohmann::json j = WithoutSummaries(ToJson(r, {}));
    CHECK_FALSE(j.contains("columns"));
    CHECK(j.dump().find("PATIENT") == std::string::npos);
  }
  FileReport f = CheckBytes("t.csv", "name,=x\n=1+1,20\n", {});
  REQUIRE(FindRule(f, "formula"));
  CHECK(FindRule(f, "formula")->message ==
        "the name of column 2 starts like a spreadsheet formula (=, +, -, @, tab or carriage return) on line 1");
}

TEST_CASE("A malformed table fails with the reason and the line, and checking stops there") {
  struct Case {
    std::string text, message;
  };
  for (const Case& c : std::vector<Case>{
           {"a,n\n1,20\n2,30,4\n", "line 3: 3 fields where the header has 2"},
           {"a,n\n1,\"20\n", "not a well-formed CSV file: line 2: a quoted field that never ends"},
           {"a,n\n1,2\"0\n", "not a well-formed CSV file: line 2: a quote inside an unquoted field; quote the whole field and double the quote"},
           {"a,n\n\xff,20\n", "line 2: a field that is not valid UTF-8"},
           {"a,a\n1,2\n", "line 1: columns 1 and 2 have the same name in the header; a checker could not tell the two apart"},
       }) {
    INFO(c.text);
    FileReport r = CheckBytes("t.csv", c.text, Counts({"n"}));
    CHECK(r.outcome == Outcome::kFail);
    REQUIRE(FindRule(r, "malformed"));
    CHECK(FindRule(r, "malformed")->message == c.message);
  }
  // The row after a malformed one is never read: its small count is not reported.
  FileReport r = CheckBytes("t.csv", "a,n\n1,20,9\n2,3\n", Counts({"n"}));
  CHECK_FALSE(FindRule(r, "threshold"));
}

TEST_CASE("An empty table needs review, a header alone passes") {
  CHECK(CheckBytes("t.csv", "", {}).outcome == Outcome::kReview);
  CHECK(FindRule(CheckBytes("t.csv", "", {}), "empty"));
  CHECK(CheckBytes("t.csv", "a,n\n", Counts({"n"})).outcome == Outcome::kPass);
}

TEST_CASE("TSV files are read with tabs, and a UTF-8 byte order mark is not part of the header") {
  FileReport r = CheckBytes("out/t.TSV", "g\tn\na\t4\n", Counts({"n"}));
  CHECK(r.type == "tsv");
  CHECK(r.outcome == Outcome::kFail);
  CHECK(FindRule(r, "threshold"));
  r = CheckBytes("t.csv", "\xEF\xBB\xBFn\n20\n", Counts({"n"}));
  CHECK(r.outcome == Outcome::kPass);
  // The mark split over chunks, and a file that is only part of one.
  FileCheck split("t.csv", 8, Counts({"n"}));
  for (std::string_view part : {"\xEF", "\xBB", "\xBFn", "\n20\n"}) split.Feed(part);
  CHECK(split.Finish().outcome == Outcome::kPass);
  FileCheck partial("t.csv", 1, {});
  partial.Feed("\xEF");
  CHECK(FindRule(partial.Finish(), "malformed"));  // not UTF-8
}

TEST_CASE("File types off the allow-list need review and are not read") {
  for (std::string path : {"output/model.pkl", "output/data.parquet", "output/README", "output/.hidden"}) {
    INFO(path);
    FileCheck check(path, 10, {});
    CHECK_FALSE(check.wants_bytes());
    FileReport r = check.Finish();
    CHECK(r.outcome == Outcome::kReview);
    CHECK(FindRule(r, "file_type"));
  }
  for (std::string path : {"a.txt", "a.md", "a.json", "a.svg"}) {
    INFO(path);
    CHECK(CheckBytes(path, "anything\tat all, é\r\n", {}).outcome == Outcome::kPass);
    // Attack: a zip, an image or a binary renamed to a text type.
    for (std::string bytes : {std::string("PK\x03\x04\x14\0\0\0", 8), std::string("a\0b", 3),
                              std::string("\xff\xfe"), std::string("x\x1b[2J"), std::string("caf\xc3")}) {
      FileReport r = CheckBytes(path, bytes, {});
      CHECK(r.outcome == Outcome::kFail);
      CHECK(FindRule(r, "signature"));
    }
  }
  // A character cut between two chunks is still text.
  FileCheck cut("a.txt", 4, {});
  cut.Feed("caf\xc3");
  cut.Feed("\xa9");
  CHECK(cut.Finish().outcome == Outcome::kPass);
}

namespace {
std::string Chunk(std::string type, std::string data) {
  std::string n(4, '\0');
  for (int i = 0; i < 4; ++i) n[i] = static_cast<char>((data.size() >> (24 - 8 * i)) & 0xff);
  return n + type + data + "CRC!";  // CRCs are not checked
}
std::string Png(std::string before_end = "", std::string after = "") {
  return std::string("\x89PNG\r\n\x1a\n", 8) + Chunk("IHDR", std::string(13, '\1')) +
         Chunk("IDAT", "pixels") + before_end + Chunk("IEND", "") + after;
}
}  // namespace

TEST_CASE("A PNG must be a whole image and nothing more") {
  CHECK(CheckBytes("plot.png", Png(), {}).outcome == Outcome::kPass);
  FileReport r = CheckBytes("plot.png", "a,b\n1,2\n", {});
  CHECK(r.outcome == Outcome::kFail);
  CHECK(FindRule(r, "signature"));
  // The image may arrive a byte at a time.
  FileCheck check("plot.png", static_cast<std::int64_t>(Png().size()), {});
  for (char c : Png()) check.Feed(std::string_view(&c, 1));
  CHECK(check.Finish().outcome == Outcome::kPass);
  // Attack: a table appended after the image, which no viewer shows.
  r = CheckBytes("plot.png", Png("", "PATIENT-7731,44\n"), {});
  CHECK(r.outcome == Outcome::kFail);
  REQUIRE(FindRule(r, "hidden_data"));
  CHECK(FindRule(r, "hidden_data")->message.find("PATIENT") == std::string::npos);
  // Text in a chunk no viewer shows is for the checker to read.
  r = CheckBytes("plot.png", Png(Chunk("tEXt", "Comment\0PATIENT-7731")), {});
  CHECK(r.outcome == Outcome::kReview);
  CHECK(FindRule(r, "hidden_data"));
  // Cut short, or not starting with IHDR: not an image.
  std::string whole = Png();
  CHECK(CheckBytes("plot.png", whole.substr(0, whole.size() - 3), {}).outcome == Outcome::kFail);
  CHECK(CheckBytes("plot.png", std::string("\x89PNG\r\n\x1a\n", 8) + Chunk("IDAT", "x"), {}).outcome == Outcome::kFail);
}

TEST_CASE("A file over the size cap fails unread, and one that grows past it while read stops there") {
  CheckParams p;
  p.max_file_bytes = 100;
  FileCheck big("t.csv", 101, Counts({"n"}), p);
  CHECK_FALSE(big.wants_bytes());
  FileReport r = big.Finish();
  CHECK(r.outcome == Outcome::kFail);
  CHECK(FindRule(r, "size")->message == "the file is 101 bytes, over the cap of 100; release summaries, not data");

  // The recorded size said 10; the bytes say otherwise. Nothing past the cap is read.
  FileCheck liar("t.csv", 10, Counts({"n"}), p);
  liar.Feed("n\n");
  for (int i = 0; i < 100 && liar.wants_bytes(); ++i) liar.Feed("20\n");
  CHECK_FALSE(liar.wants_bytes());
  r = liar.Finish();
  CHECK(r.outcome == Outcome::kFail);
  CHECK(FindRule(r, "size"));
  CHECK(r.rows < 40);
}

TEST_CASE("A large table is read in chunks with bounded findings: one per rule and column") {
  std::string table = "g,n\n";
  for (int i = 0; i < 100000; ++i) table += "x," + std::to_string(i % 20) + "\n";
  FileCheck check("t.csv", static_cast<std::int64_t>(table.size()), Counts({"n"}, 5));
  for (std::size_t i = 0; i < table.size(); i += 4096) check.Feed(std::string_view(table).substr(i, 4096));
  FileReport r = check.Finish();
  CHECK(r.rows == 100000);
  CHECK(r.findings.size() == 3);  // zero, threshold, rounding
  CHECK(FindRule(r, "threshold")->cells == 100000 / 20 * 9);
  CHECK(FindRule(r, "zero")->cells == 100000 / 20);
  CHECK(FindRule(r, "rounding")->cells == 100000 / 20 * 16);
}

TEST_CASE("The column summary gives type, missing, min, min above zero, max, sum and divisibility by 5") {
  FileReport r = CheckBytes("t.csv",
                            "name,n,rate,empty\n"
                            "a,0,0.5,\n"
                            "b,15,,NA\n"
                            "c,NA,1.25,\n"
                            "d,25,-2,\n",
                            {});
  REQUIRE(r.columns.size() == 4);
  const ColumnSummary& name = r.columns[0];
  CHECK(name.type == "text");
  CHECK_FALSE(name.min);
  const ColumnSummary& n = r.columns[1];
  CHECK(n.type == "integer");
  CHECK(n.cells == 4);
  CHECK(n.missing == 1);
  CHECK(*n.min == 0);
  CHECK(*n.min_above_zero == 15);
  CHECK(*n.max == 25);
  CHECK(n.sum == 40);
  CHECK(n.divisible_by_5);
  const ColumnSummary& rate = r.columns[2];
  CHECK(rate.type == "number");
  CHECK(*rate.min == -2);
  CHECK(*rate.min_above_zero == 0.5);
  CHECK(rate.sum == -0.25);
  CHECK_FALSE(rate.divisible_by_5);
  CHECK(r.columns[3].type == "empty");
  CHECK(r.columns[3].missing == 4);
}

TEST_CASE("The stored report names the tool, its version and parameters, and every finding") {
  CheckParams p;
  FileReport r = CheckBytes("output/t.csv", "g,n\na,3\n", Counts({"n"}, 5), p);
  nlohmann::json j = ToJson(r, p);
  CHECK(j["tool"] == "sluss-airlock");
  CHECK(j["version"] == kToolVersion);
  CHECK(j["parameters"]["threshold"] == 10);
  CHECK(j["parameters"]["zeros_disclosive"] == true);
  CHECK(j["parameters"]["allowed_types"].size() == 7);
  CHECK(j["outcome"] == "fail");
  CHECK(j["findings"].size() == 2);
  CHECK(j["findings"][0]["rule"] == "threshold");
  CHECK(j["findings"][0]["column"] == "n");
  CHECK(j["findings"][0]["first_line"] == 2);
  CHECK(j["columns"][1]["name"] == "n");
  CHECK(j["columns"][0]["sum"].is_null());
  CHECK(j["rows"] == 1);
  // A non-table has no columns.
  CHECK_FALSE(ToJson(CheckBytes("a.txt", "x", {}), p).contains("columns"));
}

TEST_CASE("a job's log is read as text: UTF-8 without NUL bytes, in chunks of any size") {
  const std::string good = "row 1 é\nrow 2 \xF0\x9F\x98\x80 done\n";
  for (std::size_t step : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{64}}) {
    FileCheck check("log/job-1/stdout.log", static_cast<std::int64_t>(good.size()), {});
    for (std::size_t i = 0; i < good.size(); i += step) check.Feed(std::string_view(good).substr(i, step));
    auto r = check.Finish();
    INFO(step);
    CHECK(r.outcome == Outcome::kPass);
  }
  // Not on the allowed list, yet read: a log is always text to a checker.
  CheckParams only_csv;
  only_csv.allowed_types = {"csv"};
  CHECK(CheckBytes("log/job-1/stdout.log", good, {}, only_csv).outcome == Outcome::kPass);
  auto bad = CheckBytes("log/job-1/stdout.log", std::string("a\nb\nc\xff\n", 7), {});
  REQUIRE(bad.findings.size() == 1);
  CHECK(bad.findings[0].rule == "not_text");
  CHECK(bad.findings[0].message.starts_with("line 3 "));
  CHECK(CheckBytes("log/job-1/stdout.log", std::string("a\0b", 3), {}).outcome == Outcome::kFail);
  CHECK(CheckBytes("log/job-1/stdout.log", "cut \xC3", {}).findings[0].rule == "not_text");
  // Over the cap: fail, unread.
  CheckParams small;
  small.max_file_bytes = 4;
  CHECK(CheckBytes("log/job-1/stdout.log", good, {}, small).findings[0].rule == "size");
}
