#include "sandbox/run_spec.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace sluss::sandbox {
namespace {

RunSpec Valid() {
  RunSpec s;
  s.id = "sluss-12-1";
  s.image = {"host", "sha256:ab", "/images/host", {"/usr"}};
  s.argv = {"python3", "analysis/extract.py"};
  s.workspace = "/state/jobs/12/workspace";
  s.datasets = {{"rx", "2026-06", "/srv/rx"}};
  s.inputs = {{"output/cohort.csv", "/state/jobs/11/outputs/output/cohort.csv"}};
  s.outputs = {"output/table1.csv"};
  s.gpus = {"GPU-1"};
  s.cdi_spec = "/etc/cdi/nvidia.yaml";
  return s;
}

TEST_CASE("a job spec survives its JSON form") {
  RunSpec s = Valid();
  auto back = ParseRunSpec(ToJson(s));
  REQUIRE(back);
  CHECK(ToJson(*back) == ToJson(s));
}

TEST_CASE("a job spec that would weaken the sandbox is refused, naming the field") {
  auto field = [](auto edit) {
    RunSpec s = Valid();
    edit(s);
    auto r = ParseRunSpec(ToJson(s));
    return r ? std::string("accepted") : r.error().field;
  };
  CHECK(field([](RunSpec& s) { s.uid = 0; }) == "uid");
  CHECK(field([](RunSpec& s) { s.gid = 1000; }) == "uid");
  CHECK(field([](RunSpec& s) { s.argv.clear(); }) == "argv");
  CHECK(field([](RunSpec& s) { s.id = "../x"; }) == "id");
  CHECK(field([](RunSpec& s) { s.image.rootfs = "relative"; }) == "image.rootfs");
  CHECK(field([](RunSpec& s) { s.datasets[0].name = "../etc"; }) == "datasets[].name");
  CHECK(field([](RunSpec& s) { s.inputs[0].path = "output/../../etc/passwd"; }) == "inputs[].path");
  CHECK(field([](RunSpec& s) { s.limits.memory_bytes = 0; }) == "limits");
  CHECK(field([](RunSpec& s) { s.output_fs = "tmpfs"; }) == "output_fs");
  nlohmann::json j = ToJson(Valid());
  j["limits"]["pids"] = "many";
  auto r = ParseRunSpec(j);
  REQUIRE_FALSE(r);
  CHECK(r.error().field == "limits.pids");
}

TEST_CASE("a result survives its JSON form") {
  JobResult r;
  r.status = "oom_killed";
  r.signal = 9;
  r.outputs = {{"output/a.csv", 12, "ab"}};
  r.outputs_count = 1;  // what sluss-run sets with the list
  r.outputs_bytes = 12;
  auto back = core::JobResultFromJson(ToJson(r));
  REQUIRE(back);
  CHECK(ToJson(*back) == ToJson(r));
  CHECK_FALSE(back->exit_code);
}

}  // namespace
}  // namespace sluss::sandbox
