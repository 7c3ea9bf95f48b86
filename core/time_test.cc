#include "core/time.h"

#include <catch2/catch.hpp>

using namespace sluss::core;

TEST_CASE("times print as RFC 3339 UTC with milliseconds") {
  CHECK(FormatRfc3339(FromUnixMillis(0)) == "1970-01-01T00:00:00.000Z");
  CHECK(FormatRfc3339(FromUnixMillis(1795882659123)) ==
        "2026-11-28T16:17:39.123Z");
}

TEST_CASE("RFC 3339 times parse with offsets and round-trip") {
  auto t = ParseRfc3339("2026-11-28T16:17:39.123Z");
  REQUIRE(t);
  CHECK(ToUnixMillis(*t) == 1795882659123);
  CHECK(ParseRfc3339("2026-11-28T17:17:39.123+01:00") == t);
  CHECK(ParseRfc3339("2026-11-28T16:17:39Z").has_value());
  CHECK(!ParseRfc3339("2026-13-28T16:17:39Z"));
  CHECK(!ParseRfc3339("2026-11-28 16:17"));
  CHECK(!ParseRfc3339("2026-11-28T16:17:39"));
  CHECK(!ParseRfc3339("2026-11-28T16:17:39Zjunk"));
}
