// Bad sluss.yaml files: each case asserts every diagnostic, exactly, with its
// line and column. These are the messages researchers read when a push fails.

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/pipeline.h"

using namespace sluss::core;

namespace {

struct BadFile {
  const char* name;
  std::string text;
  std::vector<std::string> expected;
};

// A valid action to pad files with, at lines 2-4 after "actions:".
const std::string kHead = "version: 1\nactions:\n";

std::vector<std::string> Messages(const std::string& text) {
  auto p = ParsePipeline(text);
  std::vector<std::string> out;
  if (p) return out;
  for (const auto& d : p.error()) out.push_back(d.ToString());
  return out;
}

const std::vector<BadFile>& Cases() {
  static const std::vector<BadFile> cases = {
      {"empty file", "", {"sluss.yaml:1:1: the file is empty; it needs 'version: 1' and 'actions'"}},
      {"only a comment", "# nothing\n", {"sluss.yaml:1:1: the file is empty; it needs 'version: 1' and 'actions'"}},
      {"top level is a list", "- a\n- b\n",
       {"sluss.yaml:1:1: expected a mapping with 'version' and 'actions', got a list"}},
      {"top level is a scalar", "hello\n",
       {"sluss.yaml:1:1: expected a mapping with 'version' and 'actions', got a single value"}},
      {"yaml syntax error", "version: 1\nactions: [a, b\n",
       {"sluss.yaml:3:1: YAML syntax error: end of sequence flow not found"}},
      {"tab indentation", "version: 1\nactions:\n\ta: {}\n",
       {"sluss.yaml:3:1: a tab in the indentation; YAML indents with spaces only"}},
      {"missing version", "actions:\n  a: {image: py, run: python a.py}\n",
       {"sluss.yaml:1:1: missing 'version' (add 'version: 1' at the top)"}},
      {"unsupported version", "version: 2\nactions:\n  a: {image: py, run: python a.py}\n",
       {"sluss.yaml:1:10: version: version 2 is not supported; this sluss reads version 1"}},
      {"version not a number", "version: one\nactions:\n  a: {image: py, run: x}\n",
       {"sluss.yaml:1:10: version: expected 1, got 'one'"}},
      {"missing actions", "version: 1\n",
       {"sluss.yaml:1:1: missing 'actions' (the steps to run)"}},
      {"empty actions", "version: 1\nactions:\n",
       {"sluss.yaml:2:1: actions: the pipeline has no actions; add at least one"}},
      {"empty actions mapping", "version: 1\nactions: {}\n",
       {"sluss.yaml:2:10: actions: the pipeline has no actions; add at least one"}},
      {"actions is a list", "version: 1\nactions:\n  - image: py\n",
       {"sluss.yaml:3:3: actions: expected a mapping of action names to actions, got a list"}},
      {"unknown top-level key with hint", "version: 1\nactoins:\n  a: {image: py, run: x}\n",
       {"sluss.yaml:1:1: missing 'actions' (the steps to run)",
        "sluss.yaml:2:1: unknown key 'actoins' (did you mean 'actions'?)"}},
      {"unknown top-level key without hint", kHead + "  a: {image: py, run: x}\nschedule: daily\n",
       {"sluss.yaml:4:1: unknown key 'schedule' (expected one of: version, actions)"}},
      {"duplicate top-level key", "version: 1\nversion: 1\nactions:\n  a: {image: py, run: x}\n",
       {"sluss.yaml:2:1: duplicate key 'version' (first at line 1)"}},
      {"unknown action key with hint", kHead + "  a:\n    imgae: py\n    run: x\n",
       {"sluss.yaml:3:3: actions.a: missing 'image' (the approved image to run in, e.g. python-3.11)",
        "sluss.yaml:4:5: actions.a: unknown key 'imgae' (did you mean 'image'?)"}},
      {"unknown action key: dataset", kHead + "  a:\n    image: py\n    run: x\n    dataset: [rx]\n",
       {"sluss.yaml:6:5: actions.a: unknown key 'dataset' (did you mean 'datasets'?)"}},
      {"duplicate action", kHead + "  a: {image: py, run: x}\n  a: {image: py, run: y}\n",
       {"sluss.yaml:4:3: actions: duplicate key 'a' (first at line 3)"}},
      {"duplicate key in action", kHead + "  a:\n    image: py\n    image: r\n    run: x\n",
       {"sluss.yaml:5:5: actions.a: duplicate key 'image' (first at line 4)"}},
      {"missing run and image", kHead + "  a:\n    needs: []\n",
       {"sluss.yaml:3:3: actions.a: missing 'image' (the approved image to run in, e.g. python-3.11)",
        "sluss.yaml:3:3: actions.a: missing 'run' (the command, e.g. python analysis/extract.py)"}},
      {"empty action", kHead + "  a:\n",
       {"sluss.yaml:3:3: actions.a: the action is empty; it needs at least 'image' and 'run'"}},
      {"action is a list", kHead + "  a: [image, run]\n",
       {"sluss.yaml:3:6: actions.a: expected a mapping of keys, got a list"}},
      {"bad action name", kHead + "  \"bad name!\": {image: py, run: x}\n",
       {"sluss.yaml:3:3: actions: action name 'bad name!' must start with a letter or digit and hold only letters, digits, '_' and '-' (at most 64)"}},
      {"image is a list", kHead + "  a: {image: [py], run: x}\n",
       {"sluss.yaml:3:14: actions.a.image: expected a string, got a list"}},
      {"image with a slash", kHead + "  a: {image: ../etc, run: x}\n",
       {"sluss.yaml:3:14: actions.a.image: image name '../etc' must hold only letters, digits, '.', '_', '-' and ':' (ask an admin for the approved names)"}},
      {"empty run", kHead + "  a: {image: py, run: ''}\n",
       {"sluss.yaml:3:23: actions.a.run: the command is empty"}},
      {"run with a redirect", kHead + "  a: {image: py, run: python a.py > out.txt}\n",
       {"sluss.yaml:3:23: actions.a.run: '>' would need a shell, but sluss runs the command without one; put the steps in a script, or quote the character"}},
      {"run with unterminated quote", kHead + "  a:\n    image: py\n    run: python 'a.py\n",
       {"sluss.yaml:5:10: actions.a.run: unterminated single quote"}},
      {"needs a missing action with hint", kHead + "  extract: {image: py, run: x}\n  train: {image: py, run: y, needs: [extrct]}\n",
       {"sluss.yaml:4:38: actions.train.needs: no action named 'extrct' (did you mean 'extract'?)"}},
      {"needs itself", kHead + "  a: {image: py, run: x, needs: [a]}\n",
       {"sluss.yaml:3:34: actions.a.needs: an action cannot need itself"}},
      {"needs twice", kHead + "  a: {image: py, run: x}\n  b: {image: py, run: x, needs: [a, a]}\n",
       {"sluss.yaml:4:37: actions.b.needs: lists 'a' twice"}},
      {"needs is a string", kHead + "  a: {image: py, run: x}\n  b: {image: py, run: x, needs: a}\n",
       {"sluss.yaml:4:33: actions.b.needs: expected a list of action names, got a single value (write [a])"}},
      {"cycle of three", kHead + "  a: {image: py, run: x, needs: [c]}\n  b: {image: py, run: x, needs: [a]}\n  c: {image: py, run: x, needs: [b]}\n",
       {"sluss.yaml:3:3: actions.a.needs: cycle: a -> c -> b -> a"}},
      {"cycle of two beside a good action", kHead + "  ok: {image: py, run: x}\n  p: {image: py, run: x, needs: [q, ok]}\n  q: {image: py, run: x, needs: [p]}\n",
       {"sluss.yaml:4:3: actions.p.needs: cycle: p -> q -> p"}},
      {"dataset with a path", kHead + "  a: {image: py, run: x, datasets: [../rx]}\n",
       {"sluss.yaml:3:37: actions.a.datasets: dataset '../rx' must be a name of lower-case letters, digits, '_' and '-', optionally pinned as name@version"}},
      {"dataset twice", kHead + "  a: {image: py, run: x, datasets: [rx, rx@1]}\n",
       {"sluss.yaml:3:41: actions.a.datasets: lists dataset 'rx' twice"}},
      {"memory with a bad unit", kHead + "  a:\n    image: py\n    run: x\n    resources: {memory: 16Q}\n",
       {"sluss.yaml:6:25: actions.a.resources.memory: memory size '16Q': unknown unit 'Q'; use K, M, G, T or P (powers of 1024), e.g. 16G or 512M"}},
      {"negative memory", kHead + "  a:\n    image: py\n    run: x\n    resources: {memory: -1G}\n",
       {"sluss.yaml:6:25: actions.a.resources.memory: memory size '-1G' must not be negative"}},
      {"memory without unit", kHead + "  a:\n    image: py\n    run: x\n    resources: {memory: 16}\n",
       {"sluss.yaml:6:25: actions.a.resources.memory: memory '16' is less than 1M; did you forget the unit (e.g. 16G)?"}},
      {"less memory than a job needs to start", kHead + "  a:\n    image: py\n    run: x\n    resources: {memory: 2M}\n",
       {"sluss.yaml:6:25: actions.a.resources.memory: memory '2M' is less than a job needs to start; the least is 16M"}},
      {"a CPU share under the kernel's smallest", kHead + "  a:\n    image: py\n    run: x\n    resources: {cpus: 9m}\n",
       {"sluss.yaml:6:23: actions.a.resources.cpus: cpus '9m' is less than the smallest share, 10m"}},
      {"disk too small for a file system", kHead + "  a:\n    image: py\n    run: x\n    resources: {disk: 64K}\n",
       {"sluss.yaml:6:23: actions.a.resources.disk: disk '64K' is too small for a file system; the least is 1M"}},
      {"huge memory", kHead + "  a:\n    image: py\n    run: x\n    resources: {memory: 99999999999T}\n",
       {"sluss.yaml:6:25: actions.a.resources.memory: memory size '99999999999T' is too large (the limit is 1024P)"}},
      {"time without unit", kHead + "  a:\n    image: py\n    run: x\n    resources: {time: 90}\n",
       {"sluss.yaml:6:23: actions.a.resources.time: duration '90' has no unit; write e.g. 90m for minutes or 90h for hours"}},
      {"gpus as text", kHead + "  a:\n    image: py\n    run: x\n    resources: {gpus: two}\n",
       {"sluss.yaml:6:23: actions.a.resources.gpus: expected a whole number, got 'two'"}},
      {"too many gpus and zero cpus", kHead + "  a:\n    image: py\n    run: x\n    resources: {gpus: 65, cpus: 0}\n",
       {"sluss.yaml:6:23: actions.a.resources.gpus: must be between 0 and 64, got 65",
        "sluss.yaml:6:33: actions.a.resources.cpus: must be more than 0"}},
      {"unknown resource", kHead + "  a:\n    image: py\n    run: x\n    resources: {gpu: 1}\n",
       {"sluss.yaml:6:17: actions.a.resources: unknown key 'gpu' (did you mean 'gpus'?)"}},
      {"output outside output/", kHead + "  a:\n    image: py\n    run: x\n    outputs:\n      releasable: [results/t.csv]\n",
       {"sluss.yaml:7:20: actions.a.outputs.releasable: 'results/t.csv' is not under output/; outputs must be written there"}},
      {"absolute output", kHead + "  a:\n    image: py\n    run: x\n    outputs:\n      sensitive: [/etc/shadow]\n",
       {"sluss.yaml:7:19: actions.a.outputs.sensitive: '/etc/shadow' is absolute; write it relative, under output/"}},
      {"escaping output", kHead + "  a:\n    image: py\n    run: x\n    outputs:\n      sensitive: [output/../../etc/passwd]\n",
       {"sluss.yaml:7:19: actions.a.outputs.sensitive: 'output/../../etc/passwd' must not contain '..'"}},
      {"whole output directory", kHead + "  a:\n    image: py\n    run: x\n    outputs:\n      sensitive: [output]\n",
       {"sluss.yaml:7:19: actions.a.outputs.sensitive: 'output' names the whole output/ directory; name files, e.g. output/table.csv or output/*.csv"}},
      {"unclosed glob bracket", kHead + "  a:\n    image: py\n    run: x\n    outputs:\n      sensitive: ['output/[ab.csv']\n",
       {"sluss.yaml:7:19: actions.a.outputs.sensitive: 'output/[ab.csv' has a '[' without a closing ']'"}},
      {"double star inside a name", kHead + "  a:\n    image: py\n    run: x\n    outputs:\n      sensitive: ['output/a**.csv']\n",
       {"sluss.yaml:7:19: actions.a.outputs.sensitive: 'output/a**.csv' uses '**' inside a name; '**' must be a whole path part"}},
      {"dot component and double slash", kHead + "  a:\n    image: py\n    run: x\n    outputs:\n      sensitive: [output/./a.csv, output//b.csv]\n",
       {"sluss.yaml:7:19: actions.a.outputs.sensitive: 'output/./a.csv' must not contain '.' components",
        "sluss.yaml:7:35: actions.a.outputs.sensitive: 'output//b.csv' must not contain '//'"}},
      {"duplicate output across actions", kHead + "  a:\n    image: py\n    run: x\n    outputs: {sensitive: [output/c.csv]}\n  b:\n    image: py\n    run: x\n    outputs: {releasable: [output/c.csv]}\n",
       {"sluss.yaml:10:28: actions.b.outputs.releasable: 'output/c.csv' is already an output of action 'a' (line 6); each output belongs to one action"}},
      {"empty outputs", kHead + "  a:\n    image: py\n    run: x\n    outputs: {}\n",
       {"sluss.yaml:6:14: actions.a.outputs: is empty; list 'sensitive' or 'releasable' files"}},
      {"code glob escaping", kHead + "  a: {image: py, run: x, code: ['../other/*.py']}\n",
       {"sluss.yaml:3:33: actions.a.code: '../other/*.py' must not contain '..'"}},
      {"retries too many", kHead + "  a: {image: py, run: x, retries: 50}\n",
       {"sluss.yaml:3:35: actions.a.retries: must be between 0 and 10, got 50"}},
      {"priority out of range", kHead + "  a: {image: py, run: x, priority: 500}\n",
       {"sluss.yaml:3:36: actions.a.priority: must be between -100 and 100, got 500"}},
      {"retries on a code that cannot be retried", kHead + "  a: {image: py, run: x, retries: {max: 1, on: [permit_revoked]}}\n",
       {"sluss.yaml:3:49: actions.a.retries.on: 'permit_revoked' cannot be retried; use nonzero_exit, oom_killed, timed_out or node_lost"}},
      {"env with a secret", kHead + "  a: {image: py, run: x, env: {DB_PASSWORD: hunter2}}\n",
       {"sluss.yaml:3:32: actions.a.env.DB_PASSWORD: looks like a secret; env values are recorded in provenance and shown to every project member, and jobs have no network, so they need no credentials"}},
      {"env reserved and nested", kHead + "  a: {image: py, run: x, env: {CUDA_VISIBLE_DEVICES: 0, OPTS: {a: 1}}}\n",
       {"sluss.yaml:3:32: actions.a.env.CUDA_VISIBLE_DEVICES: is set by sluss and cannot be overridden",
        "sluss.yaml:3:63: actions.a.env.OPTS: expected a plain value, got a mapping"}},
      {"merge key", kHead + "  base: &b {image: py, run: x}\n  a:\n    <<: *b\n",
       {"sluss.yaml:4:3: actions.a: missing 'image' (the approved image to run in, e.g. python-3.11)",
        "sluss.yaml:4:3: actions.a: missing 'run' (the command, e.g. python analysis/extract.py)",
        "sluss.yaml:5:5: actions.a: merge keys ('<<') are not supported; write the keys out"}},
      {"two documents", kHead + "  a: {image: py, run: x}\n---\nversion: 1\n",
       {"sluss.yaml:4:1: the file holds more than one YAML document ('---'); put everything in one"}},
      {"many errors at once, in order", kHead + "  a:\n    image: py\n    run: x > y\n    needs: [nope]\n    resources: {memory: 1Q, time: 2x}\n",
       {"sluss.yaml:5:10: actions.a.run: '>' would need a shell, but sluss runs the command without one; put the steps in a script, or quote the character",
        "sluss.yaml:6:13: actions.a.needs: no action named 'nope'",
        "sluss.yaml:7:25: actions.a.resources.memory: memory size '1Q': unknown unit 'Q'; use K, M, G, T or P (powers of 1024), e.g. 16G or 512M",
        "sluss.yaml:7:35: actions.a.resources.time: duration '2x': unknown unit 'x'; use d, h, m or s, e.g. 1d12h"}},
  };
  return cases;
}

}  // namespace

TEST_CASE("at least 40 bad files are covered") { CHECK(Cases().size() >= 40); }

TEST_CASE("bad sluss.yaml files give every error with its exact position") {
  for (const BadFile& c : Cases()) {
    SECTION(c.name) {
      INFO("file:\n" << c.text);
      CHECK(Messages(c.text) == c.expected);
    }
  }
}

TEST_CASE("a file over 1 MiB is refused before parsing") {
  std::string big = kHead + "  a: {image: py, run: x}\n#" +
                    std::string(kMaxPipelineBytes, 'x') + "\n";
  auto m = Messages(big);
  REQUIRE(m.size() == 1);
  CHECK(m[0] == "sluss.yaml:1:1: the file is " + std::to_string(big.size()) +
                    " bytes; the limit is 1 MiB (1048576 bytes)");
}

TEST_CASE("a billion-laughs file is refused, not expanded") {
  std::string bomb = "version: 1\nx0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i < 10; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    bomb += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 9; ++k) bomb += (k ? ", " : "") + prev;
    bomb += "]\n";
  }
  bomb += "actions:\n  a: {image: py, run: x}\n";
  auto m = Messages(bomb);
  REQUIRE(m.size() == 1);
  CHECK(m[0].find("sluss.yaml:6:") == 0);
  CHECK(m[0].find("billion laughs") != std::string::npos);
}

TEST_CASE("the file name given is the one printed") {
  auto p = ParsePipeline("version: 3\nactions: {a: {image: py, run: x}}\n",
                         "studies/x/sluss.yaml");
  REQUIRE(!p);
  CHECK(p.error()[0].ToString() ==
        "studies/x/sluss.yaml:1:10: version: version 3 is not supported; this "
        "sluss reads version 1");
}

TEST_CASE("a flood of errors is capped with a count of the rest") {
  std::string text = kHead;
  for (int i = 0; i < 150; ++i) {
    text += "  a" + std::to_string(i) + ": {image: py}\n";
  }
  auto m = Messages(text);
  REQUIRE(m.size() == 101);
  CHECK(m.back().find("... and 50 more errors") != std::string::npos);
}
