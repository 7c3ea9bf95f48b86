#include "core/quantity.h"

#include <catch2/catch.hpp>

using namespace sluss::core;
using namespace std::chrono_literals;

TEST_CASE("memory sizes use powers of 1024, with or without i and B") {
  CHECK(ParseBytes("16G").value() == 16LL << 30);
  CHECK(ParseBytes("16Gi").value() == 16LL << 30);
  CHECK(ParseBytes("16GB").value() == 16LL << 30);
  CHECK(ParseBytes("16GiB").value() == 16LL << 30);
  CHECK(ParseBytes("512Mi").value() == 512LL << 20);
  CHECK(ParseBytes("1.5T").value() == (3LL << 40) / 2);
  CHECK(ParseBytes("2048").value() == 2048);
  CHECK(ParseBytes("1k").value() == 1024);
  CHECK(ParseBytes("0.5K").value() == 512);
  CHECK(ParseBytes("007M").value() == 7LL << 20);
}

TEST_CASE("nonsense memory sizes are refused with a message that quotes them") {
  CHECK(ParseBytes("-1G").error().message ==
        "memory size '-1G' must not be negative");
  CHECK(ParseBytes("16Q").error().message ==
        "memory size '16Q': unknown unit 'Q'; use K, M, G, T or P (powers of "
        "1024), e.g. 16G or 512M");
  CHECK(ParseBytes("99999999999T").error().message ==
        "memory size '99999999999T' is too large (the limit is 1024P)");
  CHECK(ParseBytes("9999999999999999999999").error().message ==
        "memory size '9999999999999999999999' is too large");
  CHECK(!ParseBytes(""));
  CHECK(!ParseBytes("G"));
  CHECK(!ParseBytes("16 G"));
  CHECK(!ParseBytes("1.2.3G"));
  CHECK(!ParseBytes("+5G"));
  CHECK(ParseBytes("16G").has_value());
}

TEST_CASE("memory sizes print in the largest exact unit") {
  CHECK(FormatBytes(16LL << 30) == "16G");
  CHECK(FormatBytes(1536LL << 30) == "1.5T");
  CHECK(FormatBytes(1024) == "1K");
  CHECK(FormatBytes(1000) == "1000");
  CHECK(FormatBytes(0) == "0");
  CHECK(FormatBytes((1LL << 30) + 1) == "1073741825");  // never rounded to "1G"
  CHECK(FormatBytes(1025) == "1025");  // shorter than "1.001K"
  CHECK(FormatBytes(1536) == "1.5K");
  CHECK(FormatBytes(1LL << 60) == "1024P");
  for (const char* s : {"16G", "512M", "1.5T", "3K", "7P", "1.9951T", "0.5K", "1.0001G",
                        "1023.99999P"}) {
    CHECK(FormatBytes(ParseBytes(s).value()) == (s == std::string("0.5K") ? "512" : s));
  }
}

TEST_CASE("every byte count prints as text that reads back as the same bytes") {
  // Up to 2^56: every value with at most 18 digits, so that ParseBytes can
  // read it even as plain bytes.
  std::uint64_t x = 88172645463325252ULL;  // xorshift, fixed seed
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const auto bytes = static_cast<std::int64_t>(x % (std::uint64_t{1} << (10 + i % 47)));
    const std::string text = FormatBytes(bytes);
    INFO(bytes << " -> " << text);
    REQUIRE(ParseBytes(text).value() == bytes);
  }
  CHECK(ParseBytes(FormatBytes(kMaxBytes)).value() == kMaxBytes);
}

TEST_CASE("durations take d, h, m, s largest first") {
  CHECK(ParseDuration("2h").value() == 2h);
  CHECK(ParseDuration("90m").value() == 90min);
  CHECK(ParseDuration("1d12h").value() == 36h);
  CHECK(ParseDuration("1h30m15s").value() == 1h + 30min + 15s);
  CHECK(ParseDuration("1.5h").value() == 90min);
  CHECK(ParseDuration("45s").value() == 45s);
  CHECK(ParseDuration("0s").value() == 0s);
}

TEST_CASE("nonsense durations are refused") {
  CHECK(ParseDuration("90").error().message ==
        "duration '90' has no unit; write e.g. 90m for minutes or 90h for "
        "hours");
  CHECK(ParseDuration("-1h").error().message ==
        "duration '-1h' must not be negative");
  CHECK(ParseDuration("2x").error().message ==
        "duration '2x': unknown unit 'x'; use d, h, m or s, e.g. 1d12h");
  CHECK(ParseDuration("30m1h").error().message ==
        "duration '30m1h': units must come largest first, each once (e.g. "
        "1d12h30m)");
  CHECK(ParseDuration("1h1h").has_value() == false);
  CHECK(ParseDuration("400d").error().message ==
        "duration '400d' is too long (the limit is 366d)");
  CHECK(ParseDuration("1hm").error().message ==
        "duration '1hm': expected a number after the unit");
  CHECK(!ParseDuration(""));
  CHECK(!ParseDuration("h"));
}

TEST_CASE("durations print compactly") {
  CHECK(FormatDuration(36h) == "1d12h");
  CHECK(FormatDuration(90min) == "1h30m");
  CHECK(FormatDuration(0s) == "0s");
  CHECK(FormatDuration(59s) == "59s");
  for (const char* s : {"2h", "1d12h", "1h30m15s", "45s"}) {
    CHECK(FormatDuration(ParseDuration(s).value()) == s);
  }
}

TEST_CASE("cpus are kept as millicpus") {
  CHECK(ParseMilliCpus("4").value() == 4000);
  CHECK(ParseMilliCpus("0.5").value() == 500);
  CHECK(ParseMilliCpus("500m").value() == 500);
  CHECK(ParseMilliCpus("2.25").value() == 2250);
  CHECK(ParseMilliCpus("0.0001").error().message ==
        "cpus '0.0001' is finer than 0.001 CPU");
  CHECK(ParseMilliCpus("-2").error().message == "cpus '-2' must not be negative");
  CHECK(ParseMilliCpus("4 cores").error().message ==
        "cpus '4 cores': unknown unit ' cores'; write a number of CPUs (4, "
        "0.5) or millicpus (500m)");
  CHECK(!ParseMilliCpus("99999999999"));
  CHECK(FormatMilliCpus(500) == "0.5");
  CHECK(FormatMilliCpus(4000) == "4");
  CHECK(FormatMilliCpus(1250) == "1.25");
  CHECK(FormatMilliCpus(1005) == "1.005");
}
