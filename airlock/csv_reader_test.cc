#include "airlock/internal/csv_reader.h"

#include <catch2/catch.hpp>

using sluss::airlock::internal::CsvReader;

namespace {

struct Read {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::size_t> lines;
  bool ok = true;
  std::string error;
};

// Reads `text` in chunks of `chunk` bytes, so every state is crossed at a
// chunk boundary somewhere.
Read ReadAll(std::string_view text, std::size_t chunk = 1 << 20, char delim = ',') {
  CsvReader reader(delim, 1000, 100);
  Read r;
  auto on_row = [&](std::span<const std::string> cells, std::size_t line) {
    r.rows.emplace_back(cells.begin(), cells.end());
    r.lines.push_back(line);
    return true;
  };
  for (std::size_t i = 0; i < text.size() && r.ok; i += chunk) {
    r.ok = reader.Feed(text.substr(i, chunk), on_row);
  }
  if (r.ok) r.ok = reader.Finish(on_row);
  r.error = reader.error();
  return r;
}

}  // namespace

TEST_CASE("CsvReader reads quoted fields, doubled quotes and line breaks in quotes") {
  std::string text = "a,b\n\"x,1\",\"say \"\"hi\"\"\"\n\"two\nlines\",3\r\nlast,\n";
  for (std::size_t chunk : {1, 2, 3, 7, 1000}) {
    INFO("chunk " << chunk);
    Read r = ReadAll(text, chunk);
    REQUIRE(r.ok);
    REQUIRE(r.rows.size() == 4);
    CHECK(r.rows[1] == std::vector<std::string>{"x,1", "say \"hi\""});
    CHECK(r.rows[2] == std::vector<std::string>{"two\nlines", "3"});
    CHECK(r.lines[2] == 3);
    CHECK(r.rows[3] == std::vector<std::string>{"last", ""});
    CHECK(r.lines[3] == 5);
  }
}

TEST_CASE("CsvReader takes a last row without a final line break, and no row for an empty input") {
  CHECK(ReadAll("a,b\n1,2").rows.size() == 2);
  CHECK(ReadAll("").rows.empty());
  CHECK(ReadAll("a\tb\n1\t2\n", 1000, '\t').rows[1] == std::vector<std::string>{"1", "2"});
}

TEST_CASE("CsvReader refuses what two programs could read differently, naming the line") {
  Read r = ReadAll("a,b\n1,x\"y\n");
  CHECK_FALSE(r.ok);
  CHECK(r.error == "line 2: a quote inside an unquoted field; quote the whole field and double the quote");
  r = ReadAll("a,b\n\"x\"y,2\n");
  CHECK(r.error == "line 2: text after a closing quote");
  r = ReadAll("a,b\n1,2\n\"open,3\n4,5\n");
  CHECK(r.error == "line 3: a quoted field that never ends");
  r = ReadAll("a,b\r1,2\n");
  CHECK(r.error == "line 1: a carriage return that does not end a line");
}

TEST_CASE("CsvReader bounds a field's length and a row's width") {
  Read r = ReadAll("a\n" + std::string(1001, 'x') + "\n", 7);
  CHECK(r.error == "line 2: a field longer than 1000 bytes");
  std::string wide(100, ',');
  r = ReadAll(wide + "\n");
  CHECK(r.error == "line 1: more than 100 fields in a row");
  r = ReadAll("\"" + std::string(5000, 'y'));
  CHECK(r.error == "line 1: a field longer than 1000 bytes");
}

TEST_CASE("CsvReader stops when the caller says so") {
  CsvReader reader(',', 100, 10);
  int rows = 0;
  auto on_row = [&](std::span<const std::string>, std::size_t) { return ++rows < 2; };
  CHECK_FALSE(reader.Feed("a\nb\nc\nd\n", on_row));
  CHECK(rows == 2);
  CHECK(reader.error().empty());
  CHECK_FALSE(reader.Finish(on_row));
}
