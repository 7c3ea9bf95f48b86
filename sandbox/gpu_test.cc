#include "sandbox/gpu.h"

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

namespace sluss::sandbox {
namespace {

constexpr const char* kSpec = R"(cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- {name: "0", containerEdits: {deviceNodes: [{path: /dev/nvidia0}]}}
- {name: GPU-aaaa, containerEdits: {deviceNodes: [{path: /dev/nvidia0}]}}
- {name: "1", containerEdits: {deviceNodes: [{path: /dev/nvidia1}]}}
- {name: GPU-bbbb, containerEdits: {deviceNodes: [{path: /dev/nvidia1}]}}
- {name: all, containerEdits: {deviceNodes: [{path: /dev/nvidia0}, {path: /dev/nvidia1}]}}
)";

using Names = std::vector<std::string>;

TEST_CASE("a node's GPUs: the CDI spec's inventory unless the config names them") {
  testing::TempDir dir;
  const std::string spec = (dir / "nvidia.yaml");
  testing::WriteFile(dir / "nvidia.yaml", kSpec);
  CHECK(NodeGpus(std::nullopt, spec) == Names{"0", "1"});
  CHECK(NodeGpus(Names{"GPU-bbbb"}, spec) == Names{"GPU-bbbb"});
  CHECK(NodeGpus(Names{}, spec) == Names{});
  // No spec: a node without GPUs, unless the config names some (whose
  // jobs then fail at start, saying the spec cannot be read).
  CHECK(NodeGpus(std::nullopt, (dir / "none.yaml")) == Names{});
  CHECK(NodeGpus(Names{"0"}, (dir / "none.yaml")) == Names{"0"});
}

TEST_CASE("a node's GPUs: a name the CDI spec lacks, or a broken spec, stops the start") {
  testing::TempDir dir;
  const std::string spec = (dir / "nvidia.yaml");
  testing::WriteFile(dir / "nvidia.yaml", kSpec);
  auto bad = NodeGpus(Names{"0", "2"}, spec);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("GPU '2' is not in this node's CDI spec") != std::string::npos);
  CHECK(bad.error().message.find("its GPUs: 0, 1") != std::string::npos);
  testing::WriteFile(dir / "broken.yaml", "cdiVersion: 0.5.0\nkind: x\ndevices: 3\n");
  auto broken = NodeGpus(std::nullopt, (dir / "broken.yaml"));
  REQUIRE_FALSE(broken);
  CHECK(broken.error().message.find("broken.yaml: CDI spec: devices must be a list") !=
        std::string::npos);
}

TEST_CASE("a node's GPUs: one GPU under two names, or a GPU and its MIG device, stops the start") {
  testing::TempDir dir;
  const std::string spec = (dir / "nvidia.yaml");
  testing::WriteFile(dir / "nvidia.yaml", kSpec);
  // "0" and GPU-aaaa are both /dev/nvidia0: two jobs would share it.
  auto twice = NodeGpus(Names{"0", "GPU-aaaa", "1"}, spec);
  REQUIRE_FALSE(twice);
  CHECK(twice.error().message.find("'0' and 'GPU-aaaa' are one GPU (both give /dev/nvidia0") !=
        std::string::npos);
  testing::WriteFile(dir / "mig.yaml", R"(cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- {name: "0", containerEdits: {deviceNodes: [{path: /dev/nvidia0}]}}
- {name: "0:0", containerEdits: {deviceNodes: [{path: /dev/nvidia0}, {path: /dev/nvidia-caps/nvidia-cap21}]}}
- {name: "0:1", containerEdits: {deviceNodes: [{path: /dev/nvidia0}, {path: /dev/nvidia-caps/nvidia-cap30}]}}
)");
  const std::string mig = (dir / "mig.yaml");
  auto parent = NodeGpus(Names{"0", "0:1"}, mig);
  REQUIRE_FALSE(parent);
  CHECK(parent.error().message.find("'0' and '0:1' are one GPU") != std::string::npos);
  // Two MIG devices of one GPU are two devices.
  CHECK(NodeGpus(Names{"0:0", "0:1"}, mig) == Names{"0:0", "0:1"});
  CHECK(NodeGpus(std::nullopt, mig) == Names{"0:0", "0:1"});
}

TEST_CASE("a Slurm job's GPUs: the ones Slurm allocated, exactly as many as asked") {
  using Env = std::map<std::string, std::string>;
  CHECK(SlurmGpus(Env{{"SLURM_JOB_GPUS", "1,3"}, {"CUDA_VISIBLE_DEVICES", "0,1"}}, 2) ==
        Names{"1", "3"});
  CHECK(SlurmGpus(Env{{"SLURM_STEP_GPUS", "2"}}, 1) == Names{"2"});
  CHECK(SlurmGpus(Env{{"CUDA_VISIBLE_DEVICES", "GPU-0a1b-2c3d"}}, 1) == Names{"GPU-0a1b-2c3d"});
  auto none = SlurmGpus(Env{{"PATH", "/bin"}}, 1);
  REQUIRE(!none);
  CHECK(none.error().message.find("Slurm gave it none") != std::string::npos);
  auto fewer = SlurmGpus(Env{{"SLURM_JOB_GPUS", "0"}}, 2);
  REQUIRE(!fewer);
  CHECK(fewer.error().message == "Slurm gave the job 1 GPU(s) (SLURM_JOB_GPUS=0), and it asked for 2");
  CHECK(!SlurmGpus(Env{{"SLURM_JOB_GPUS", "0,1,2"}}, 2));  // never more than asked
  CHECK(!SlurmGpus(Env{{"CUDA_VISIBLE_DEVICES", "NoDevFiles"}}, 1));
  CHECK(!SlurmGpus(Env{{"SLURM_JOB_GPUS", "0,0"}}, 2));
  CHECK(!SlurmGpus(Env{{"SLURM_JOB_GPUS", "0,all"}}, 2));  // not the CDI spec's "all"
  CHECK(!SlurmGpus(Env{{"SLURM_JOB_GPUS", "0,"}}, 2));
  CHECK(!SlurmGpus(Env{{"SLURM_JOB_GPUS", "../0"}}, 1));
}

}  // namespace
}  // namespace sluss::sandbox
