// Releasable outputs that declare what the disclosure checks should know:
// count columns, rounding, zeros. The plain list form stays valid.

#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/job_spec.h"
#include "core/pipeline.h"

using namespace sluss::core;

namespace {

std::string File(const std::string& outputs) {
  return "version: 1\nactions:\n  t:\n    image: py\n    run: python t.py\n    outputs:\n" + outputs;
}

std::vector<std::string> Messages(const std::string& text) {
  auto p = ParsePipeline(text);
  std::vector<std::string> out;
  if (p) return out;
  for (const auto& d : p.error()) out.push_back(d.ToString());
  return out;
}

}  // namespace

TEST_CASE("a releasable output declares its count columns, rounding and zeros") {
  auto p = ParsePipeline(File(
      "      sensitive: [output/cohort.csv]\n"
      "      releasable:\n"
      "        - output/plot.png\n"
      "        - path: output/table1.csv\n"
      "          counts: [n, deaths]\n"
      "          round: 5\n"
      "        - {path: output/by_age/*.csv, counts: [n], zeros: allowed}\n"));
  REQUIRE(p);
  const Outputs& o = p->actions[0].outputs;
  CHECK(o.releasable ==
        std::vector<std::string>{"output/plot.png", "output/table1.csv", "output/by_age/*.csv"});
  REQUIRE(o.controls.size() == 2);
  const OutputControls& t1 = o.controls.at("output/table1.csv");
  CHECK(t1.counts == std::vector<std::string>{"n", "deaths"});
  CHECK(t1.round == 5);
  CHECK_FALSE(t1.zeros_disclosive);
  const OutputControls& age = o.controls.at("output/by_age/*.csv");
  CHECK(age.round == 0);
  CHECK(age.zeros_disclosive == false);

  // The job's spec carries them, and a collected file finds its own.
  JobSpec spec = SpecOf(p->actions[0]);
  CHECK(spec.ControlsOf("output/table1.csv").counts.size() == 2);
  CHECK(spec.ControlsOf("output/by_age/40-49.csv").counts == std::vector<std::string>{"n"});
  CHECK(spec.ControlsOf("output/plot.png").counts.empty());
  auto back = JobSpecFromJson(ToJson(spec));
  REQUIRE(back);
  CHECK(back->outputs == spec.outputs);
}

TEST_CASE("declarations do not change the cache key, and files without them are as before") {
  auto plain = ParsePipeline(File("      releasable: [output/table1.csv]\n"));
  auto declared = ParsePipeline(File(
      "      releasable:\n        - path: output/table1.csv\n          counts: [n]\n          round: 5\n"));
  REQUIRE(plain);
  REQUIRE(declared);
  CHECK(plain->actions[0].outputs.controls.empty());
  CHECK(ToJson(plain->actions[0]) == ToJson(declared->actions[0]));
  CHECK(CacheKeyJson(SpecOf(plain->actions[0])) == CacheKeyJson(SpecOf(declared->actions[0])));
  CHECK_FALSE(ToJson(SpecOf(plain->actions[0]))["outputs"].contains("controls"));
}

TEST_CASE("bad declarations are reported at their line and column") {
  struct Case {
    std::string outputs;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"      releasable:\n        - counts: [n]\n",
       {"sluss.yaml:8:11: actions.t.outputs.releasable[0]: names no path; write 'path: output/<file>' beside counts and round"}},
      {"      releasable:\n        - path: output/t.csv\n          round: 0\n",
       {"sluss.yaml:9:18: actions.t.outputs.releasable[0].round: must be between 1 and 1000, got 0"}},
      {"      releasable:\n        - path: output/t.csv\n          counts: [n]\n          round: five\n",
       {"sluss.yaml:10:18: actions.t.outputs.releasable[0].round: expected a whole number, got 'five'"}},
      {"      releasable:\n        - path: output/t.csv\n          counts: n\n",
       {"sluss.yaml:9:19: actions.t.outputs.releasable[0].counts: expected a list of column names, got a single value (write [n])"}},
      {"      releasable:\n        - path: output/t.csv\n          counts: [n, n, '']\n",
       {"sluss.yaml:9:23: actions.t.outputs.releasable[0].counts: names column 'n' twice",
        "sluss.yaml:9:26: actions.t.outputs.releasable[0].counts: has an empty column name"}},
      {"      releasable:\n        - path: output/t.csv\n          counts: [n]\n          zeros: never\n",
       {"sluss.yaml:10:18: actions.t.outputs.releasable[0].zeros: is 'never'; write disclosive (the default) or allowed (zeros that are structural, such as an empty age band)"}},
      {"      releasable:\n        - path: output/t.csv\n          round: 5\n",
       {"sluss.yaml:8:11: actions.t.outputs.releasable[0]: declares round or zeros but no counts; name the count columns they apply to"}},
      {"      releasable:\n        - path: output/t.csv\n          cuonts: [n]\n",
       {"sluss.yaml:9:11: actions.t.outputs.releasable[0]: unknown key 'cuonts' (did you mean 'counts'?)"}},
      {"      releasable:\n        - path: /etc/passwd\n          counts: [n]\n",
       {"sluss.yaml:8:17: actions.t.outputs.releasable: '/etc/passwd' is absolute; write it relative, under output/"}},
      {"      sensitive:\n        - path: output/t.csv\n          counts: [n]\n",
       {"sluss.yaml:8:11: actions.t.outputs.sensitive: expected paths under output/ as strings, got a mapping"}},
      {"      releasable:\n        - path: output/t.csv\n        - path: output/t.csv\n          counts: [n]\n",
       {}},
  };
  for (const auto& c : cases) {
    INFO(c.outputs);
    auto got = Messages(File(c.outputs));
    if (c.expected.empty()) {
      CHECK_FALSE(got.empty());  // a duplicate output, reported by the existing check
    } else {
      CHECK(got == c.expected);
    }
  }
}
