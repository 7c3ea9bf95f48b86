#include "core/strings.h"

#include <catch2/catch.hpp>

using namespace sluss::core;

TEST_CASE("StrCat joins strings, characters and integers") {
  CHECK(StrCat("a", std::string("b"), 'c', 42, -7LL, std::size_t{3}) ==
        "abc42-73");
}

TEST_CASE("Quote escapes control characters so input cannot forge lines") {
  CHECK(Quote("ok") == "'ok'");
  CHECK(Quote("a\nb") == "'a\\nb'");
  CHECK(Quote(std::string("\x01", 1)) == "'\\x01'");
}

TEST_CASE("ClosestMatch suggests a plausible typo and nothing else") {
  std::vector<std::string_view> keys = {"image", "run", "needs", "datasets"};
  CHECK(ClosestMatch("imgae", keys) == "image");
  CHECK(ClosestMatch("dataset", keys) == "datasets");
  CHECK(ClosestMatch("rnu", keys) == "run");
  CHECK(ClosestMatch("x", keys) == "");
  CHECK(ClosestMatch("completely", keys) == "");
}
