#include "sandbox/job_spec.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace sluss::sandbox {
namespace {

JobSpec Valid() {
  JobSpec s;
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
  JobSpec s = Valid();
  auto back = ParseJobSpec(ToJson(s));
  REQUIRE(back);
  CHECK(ToJson(*back) == ToJson(s));
}

TEST_CASE("a job spec that would weaken the sandbox is refused, naming the field") {
  auto field = [](auto edit) {
    JobSpec s = Valid();
    edit(s);
    auto r = ParseJobSpec(ToJson(s));
    return r ? std::string("accepted") : r.error().field;
  };
  CHECK(field([](JobSpec& s) { s.uid = 0; }) == "uid");
  CHECK(field([](JobSpec& s) { s.gid = 1000; }) == "uid");
  CHECK(field([](JobSpec& s) { s.argv.clear(); }) == "argv");
  CHECK(field([](JobSpec& s) { s.id = "../x"; }) == "id");
  CHECK(field([](JobSpec& s) { s.image.rootfs = "relative"; }) == "image.rootfs");
  CHECK(field([](JobSpec& s) { s.datasets[0].name = "../etc"; }) == "datasets[].name");
  CHECK(field([](JobSpec& s) { s.inputs[0].path = "output/../../etc/passwd"; }) == "inputs[].path");
  CHECK(field([](JobSpec& s) { s.limits.memory_bytes = 0; }) == "limits");
  CHECK(field([](JobSpec& s) { s.output_fs = "tmpfs"; }) == "output_fs");
  nlohmann::json j = ToJson(Valid());
  j["limits"]["pids"] = "many";
  auto r = ParseJobSpec(j);
  REQUIRE_FALSE(r);
  CHECK(r.error().field == "limits.pids");
}

TEST_CASE("a result survives its JSON form") {
  JobResult r;
  r.status = "oom_killed";
  r.signal = 9;
  r.outputs = {{"output/a.csv", 12, "ab"}};
  auto back = ParseJobResult(ToJson(r));
  REQUIRE(back);
  CHECK(ToJson(*back) == ToJson(r));
  CHECK_FALSE(back->exit_code);
}

}  // namespace
}  // namespace sluss::sandbox
