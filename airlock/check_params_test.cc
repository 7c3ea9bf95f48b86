// The stewards' parameters of the checks: bounds, the strictest permit
// wins, and sluss.yaml may only tighten them.

#include "airlock/check_params.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace sluss;
using airlock::Resolve;
using airlock::StewardChecks;
using airlock::StewardChecksFromJson;
using nlohmann::json;

TEST_CASE("a steward's checks are read within their bounds, anything else names the field") {
  auto c = StewardChecksFromJson(json::parse(
      R"({"threshold": 20, "round": 5, "zeros_allowed": false, "max_file_bytes": 1048576,
          "allowed_types": ["csv", "csv", "txt"]})"));
  REQUIRE(c);
  CHECK(*c->threshold == 20);
  CHECK(*c->round == 5);
  CHECK(*c->zeros_disclosive);
  CHECK(*c->allowed_types == std::vector<std::string>{"csv", "txt"});
  CHECK(airlock::ToJson(*c)["zeros_allowed"] == false);
  for (const char* bad : {R"({"threshold": 0})", R"({"threshold": 1001})", R"({"threshold": "20"})",
                          R"({"round": 0})", R"({"max_file_bytes": 67108865})",
                          R"({"allowed_types": ["exe"]})", R"({"allowed_types": "csv"})",
                          R"({"zeros_allowed": "no"})", R"({"minimum": 3})", "[]"}) {
    auto r = StewardChecksFromJson(json::parse(bad));
    INFO(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == core::ErrorCode::kInvalidArgument);
  }
  CHECK(StewardChecksFromJson(json::object())->threshold == std::nullopt);
}

TEST_CASE("the strictest permit's value applies, and each parameter names who set it") {
  StewardChecks a, b;
  a.threshold = 20;
  a.max_file_bytes = 1000;
  b.threshold = 15;
  b.allowed_types = std::vector<std::string>{"csv"};
  b.round = 5;
  auto e = Resolve({}, {{"P-1", a}, {"P-2", b}}, "output/t.csv", {{"n"}, 0, std::nullopt});
  REQUIRE(e);
  CHECK(e->params.threshold == 20);
  CHECK(e->sources["threshold"] == "permit P-1");
  CHECK(e->params.max_file_bytes == 1000);
  CHECK(e->params.allowed_types == std::vector<std::string>{"csv"});
  CHECK(e->sources["allowed_types"] == "permit P-2");
  CHECK(e->controls.round == 5);  // the steward's rounding, none declared
  CHECK(e->sources["round"] == "permit P-2");
  CHECK(e->sources["zeros"] == "default");
  CHECK(e->sources["counts"] == "sluss.yaml");
  // No steward: the defaults, and what sluss.yaml declared.
  auto d = Resolve({}, {}, "output/t.csv", {{"n"}, 3, false});
  REQUIRE(d);
  CHECK(d->params.threshold == 10);
  CHECK(d->sources["threshold"] == "default");
  CHECK(d->controls.round == 3);
  CHECK(d->sources["round"] == "sluss.yaml");
  CHECK(d->sources["zeros"] == "sluss.yaml");
}

TEST_CASE("sluss.yaml may tighten a steward's checks, never loosen them") {
  StewardChecks s;
  s.round = 5;
  s.zeros_disclosive = true;
  // Rounding to 10 is stricter than to 5; zeros declared disclosive too.
  auto tighter = Resolve({}, {{"P-1", s}}, "output/t.csv", {{"n"}, 10, true});
  REQUIRE(tighter);
  CHECK(tighter->controls.round == 10);
  CHECK(tighter->sources["round"] == "sluss.yaml");
  // Rounding to 3 is not a multiple of 5.
  auto round = Resolve({}, {{"P-1", s}}, "output/t.csv", {{"n"}, 3, std::nullopt});
  REQUIRE_FALSE(round);
  CHECK(round.error().code == core::ErrorCode::kFailedPrecondition);
  CHECK(round.error().message.find("round: 3") != std::string::npos);
  CHECK(round.error().message.find("permit P-1's rounding to 5") != std::string::npos);
  // Zeros declared allowed where the steward made them disclosive.
  auto zeros = Resolve({}, {{"P-1", s}}, "output/t.csv", {{"n"}, 0, false});
  REQUIRE_FALSE(zeros);
  CHECK(zeros.error().message.find("zeros: allowed") != std::string::npos);
  // A steward who allowed zeros: sluss.yaml may still make them disclosive.
  StewardChecks lax;
  lax.zeros_disclosive = false;
  auto z = Resolve({}, {{"P-1", lax}}, "output/t.csv", {{"n"}, 0, true});
  REQUIRE(z);
  CHECK(z->controls.zeros_disclosive == true);
  CHECK(z->sources["zeros"] == "sluss.yaml");
}
