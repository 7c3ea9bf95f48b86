#include "core/yaml.h"

#include <string>

#include <catch2/catch.hpp>

using namespace sluss::core;

TEST_CASE("nodes carry 1-based positions") {
  auto n = ParseYaml("a:\n  b: [1, 'two']\n");
  REQUIRE(n);
  REQUIRE(n->IsMap());
  const YamlNode& b = n->entries[0].second.entries[0].second;
  CHECK(b.IsSequence());
  CHECK(b.pos == Position{2, 6});
  CHECK(b.items[1].value == "two");
  CHECK(b.items[1].quoted);
  CHECK(!b.items[0].quoted);
  CHECK(b.items[1].pos == Position{2, 10});
}

TEST_CASE("duplicate keys are kept so that checks can report them") {
  auto n = ParseYaml("a: 1\na: 2\n");
  REQUIRE(n);
  CHECK(n->entries.size() == 2);
}

TEST_CASE("small aliases expand") {
  auto n = ParseYaml("x: &r {cpus: 2}\ny: *r\n");
  REQUIRE(n);
  CHECK(n->entries[1].second.IsMap());
  CHECK(n->entries[1].second.entries[0].second.value == "2");
}

TEST_CASE("an alias bomb is refused at the alias that crosses the budget") {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) bomb += std::string(i ? ", *" : "*") + prev;
    bomb += "]\n";
    prev = c;
  }
  auto n = ParseYaml(bomb);
  REQUIRE(!n);
  CHECK(n.error().message.find("billion laughs") != std::string::npos);
  CHECK(n.error().pos.line == 4);  // d: 10 x 1111 nodes
}

TEST_CASE("syntax errors carry the position") {
  auto n = ParseYaml("a: [1, 2\nb: 3\n");
  REQUIRE(!n);
  CHECK(n.error().message.rfind("YAML syntax error: ", 0) == 0);
}

TEST_CASE("deep nesting is refused, not a stack overflow") {
  std::string deep(100000, '[');
  auto n = ParseYaml(deep);
  CHECK(!n);
}

TEST_CASE("a second document is refused") {
  auto n = ParseYaml("a: 1\n---\nb: 2\n");
  REQUIRE(!n);
  CHECK(n.error().pos.line == 2);
}

TEST_CASE("text that is not UTF-8 is refused with its position") {
  auto n = ParseYaml("a: 1\nb: 'x\xff'\n");
  REQUIRE(!n);
  CHECK(n.error().pos == Position{2, 6});
  CHECK(n.error().message == "the file is not valid UTF-8 here");
  CHECK(ParseYaml("name: \xc3\xa5sa\n").has_value());     // åsa
  CHECK(!ParseYaml("a: \xc0\xaf\n").has_value());        // overlong '/'
  CHECK(!ParseYaml("a: \xed\xa0\x80\n").has_value());   // a surrogate
}

TEST_CASE("control characters are refused, in the file and from escapes") {
  auto n = ParseYaml(std::string("a: x\0y\n", 7));
  REQUIRE(!n);
  CHECK(n.error().message == "the file holds a control character here");
  CHECK(n.error().pos == Position{1, 5});
  auto e = ParseYaml("a: \"x\\0y\"\n");
  REQUIRE(!e);
  CHECK(e.error().pos == Position{1, 4});
  CHECK(!ParseYaml("a: \"\\uD800\"\n"));
  CHECK(ParseYaml("a: \"tab\\there\"\nb: |\n  two\n  lines\n"));
}
