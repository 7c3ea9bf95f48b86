#include "core/pipeline.h"

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

using namespace sluss::core;
using namespace std::chrono_literals;

namespace {

constexpr const char* kDesignExample = R"(version: 1
actions:
  extract:
    image: python-3.11              # an image name that an admin approved
    run: python analysis/extract.py
    datasets: [prescriptions]       # must be in the project's permit
    outputs:
      sensitive: [output/cohort.parquet]
  train:
    needs: [extract]
    image: python-3.11-cuda
    run: python analysis/train.py --epochs 5
    resources: {gpus: 1, cpus: 4, memory: 16G, time: 2h}
    outputs:
      sensitive: [output/model.pt]
      releasable: [output/metrics.csv]
  table1:
    needs: [train]
    image: r-4.2
    run: Rscript analysis/table1.R
    outputs:
      releasable: [output/table1.csv]
)";

Pipeline MustParse(std::string_view text) {
  auto p = ParsePipeline(text);
  if (!p) {
    for (const auto& d : p.error()) FAIL(d.ToString());
  }
  return std::move(*p);
}

}  // namespace

TEST_CASE("the example of the design parses into three ordered actions") {
  Pipeline p = MustParse(kDesignExample);
  REQUIRE(p.actions.size() == 3);
  const Action* train = p.Find("train");
  REQUIRE(train);
  CHECK(train->image == "python-3.11-cuda");
  CHECK(train->argv == std::vector<std::string>{"python", "analysis/train.py",
                                                "--epochs", "5"});
  CHECK(train->needs == std::vector<std::string>{"extract"});
  CHECK(train->resources.gpus == 1);
  CHECK(train->resources.milli_cpus == 4000);
  CHECK(train->resources.memory_bytes == 16LL << 30);
  CHECK(train->resources.time_limit == 2h);
  CHECK(!train->resources.disk_bytes);
  CHECK(train->outputs.releasable == std::vector<std::string>{"output/metrics.csv"});
  CHECK(p.Find("extract")->datasets == std::vector<DatasetRef>{{"prescriptions", ""}});
  CHECK(p.Find("extract")->pos == Position{3, 3});
  CHECK(p.Find("extract")->image_pos == Position{4, 12});
  CHECK(p.order == std::vector<std::size_t>{0, 1, 2});
}

TEST_CASE("topological order puts needs first and keeps file order otherwise") {
  Pipeline p = MustParse(R"(version: 1
actions:
  report: {image: r, run: Rscript r.R, needs: [model, summary]}
  summary: {image: py, run: python s.py, needs: [extract]}
  model: {image: py, run: python m.py, needs: [extract]}
  extract: {image: py, run: python e.py}
  lint: {image: py, run: python l.py}
)");
  std::vector<std::string> names;
  for (auto i : p.order) names.push_back(p.actions[i].name);
  CHECK(names == std::vector<std::string>{"extract", "summary", "model",
                                          "report", "lint"});
}

TEST_CASE("optional keys: code, retries, env, pinned datasets, disk") {
  Pipeline p = MustParse(R"(version: 1
actions:
  a:
    image: python-3.11
    run: python "my script.py" --name 'x y'
    datasets: [rx@2026-06, gp_events]
    code: [analysis/*.py, lib/**]
    retries: {max: 2, on: [oom_killed]}
    env: {SEED: 42, MODE: fast}
    resources: {disk: 20G, cpus: 500m}
    outputs: {sensitive: ["output/**/*.parquet"]}
)");
  const Action& a = p.actions[0];
  CHECK(a.argv == std::vector<std::string>{"python", "my script.py", "--name", "x y"});
  CHECK(a.datasets[0] == DatasetRef{"rx", "2026-06"});
  CHECK(a.dataset_pos[1] == Position{6, 28});
  CHECK(a.code == std::vector<std::string>{"analysis/*.py", "lib/**"});
  CHECK(a.retries.max == 2);
  CHECK(a.retries.on == std::vector<StatusCode>{StatusCode::kOomKilled});
  CHECK(a.env == std::vector<std::pair<std::string, std::string>>{
                     {"MODE", "fast"}, {"SEED", "42"}});
  CHECK(a.resources.disk_bytes == 20LL << 30);
  CHECK(a.resources.milli_cpus == 500);
  MustParse("version: 1\nactions:\n  a: {image: i, run: r, retries: 3}\n");
  CHECK(a.priority == 0);
  CHECK(MustParse("version: 1\nactions:\n  a: {image: i, run: r, priority: -20}\n")
            .actions[0].priority == -20);
}

TEST_CASE("anchors and aliases of modest size are allowed") {
  Pipeline p = MustParse(R"(version: 1
actions:
  a:
    image: py
    run: python a.py
    resources: &big {cpus: 8, memory: 64G}
  b:
    image: py
    run: python b.py
    resources: *big
)");
  CHECK(p.actions[1].resources == p.actions[0].resources);
}

TEST_CASE("the canonical JSON ignores spelling and order") {
  Pipeline p1 = MustParse(R"(version: 1
actions:
  x: {image: py, run: python x.py}
  y: {image: py, run: python y.py}
  a:
    image: py
    run: python  a.py
    needs: [x, y]
    resources: {memory: 16G, cpus: 2}
    env: {B: 2, A: 1}
)");
  Pipeline p2 = MustParse(R"(version: 1
actions:
  y: {image: py, run: python y.py}
  x: {image: py, run: python x.py}
  a:
    env: {A: "1", B: "2"}
    resources: {cpus: "2000m", memory: 16Gi}
    needs: [y, x]
    run: python a.py
    image: py
)");
  CHECK(ToJson(*p1.Find("a")) == ToJson(*p2.Find("a")));
  CHECK(ToJson(*p1.Find("a"))["resources"]["memory_bytes"] == 16LL << 30);
  CHECK(ToJson(*p1.Find("a")) != ToJson(*p1.Find("x")));
}

TEST_CASE("commands split like a shell without expansion") {
  CHECK(SplitCommand("python a.py").value() ==
        std::vector<std::string>{"python", "a.py"});
  CHECK(SplitCommand(R"(Rscript -e 'x <- 1; print(x)')").value() ==
        std::vector<std::string>{"Rscript", "-e", "x <- 1; print(x)"});
  CHECK(SplitCommand(R"(echo "a \"b\"" c\ d)").value() ==
        std::vector<std::string>{"echo", "a \"b\"", "c d"});
  CHECK(SplitCommand("python a.py > out.txt").error().message ==
        "'>' would need a shell, but sluss runs the command without one; put "
        "the steps in a script, or quote the character");
  CHECK(!SplitCommand("python a.py | head"));
  CHECK(!SplitCommand("echo $HOME"));
  CHECK(!SplitCommand("echo \"$HOME\""));
  CHECK(!SplitCommand("ls data/*.csv"));
  CHECK(SplitCommand("echo 'unterminated").error().message ==
        "unterminated single quote");
  CHECK(!SplitCommand("   "));
}

TEST_CASE("each action keeps the position of its own name, past a duplicate key") {
  auto p = ParsePipeline(R"(version: 1
actions:
  a: {image: py, run: "true"}
  a: {image: py, run: "true"}
  "b c": {image: py, run: "true"}
  d: {image: py, run: "true", needs: [e]}
)");
  REQUIRE_FALSE(p);
  std::vector<std::pair<int, int>> at;
  for (const auto& d : p.error()) at.emplace_back(d.pos.line, d.pos.column);
  CHECK(at == std::vector<std::pair<int, int>>{{4, 3}, {5, 3}, {6, 39}});
}

TEST_CASE("a pipeline of 20,000 actions parses, each action at its own line") {
  std::string text = "version: 1\nactions:\n";
  for (int i = 0; i < 20000; ++i) text += "  a" + std::to_string(i) + ": {image: py, run: \"true\"}\n";
  Pipeline p = MustParse(text);
  REQUIRE(p.actions.size() == 20000);
  CHECK(p.actions[0].pos.line == 3);
  CHECK(p.actions[19999].name == "a19999");
  CHECK(p.actions[19999].pos.line == 20002);
}
