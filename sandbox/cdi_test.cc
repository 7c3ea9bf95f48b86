#include "sandbox/cdi.h"

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

namespace sluss::sandbox {
namespace {

// The shape `nvidia-ctk cdi generate` writes (abridged).
constexpr const char* kSpec = R"(---
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
- name: GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
- name: GPU-9a1b2c3d-0000-1111-2222-333344445555
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia1
      hostPath: /host/dev/nvidia1
- name: all
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
    - path: /dev/nvidia1
containerEdits:
  env:
  - NVIDIA_VISIBLE_DEVICES=void
  deviceNodes:
  - path: /dev/nvidiactl
  - path: /dev/nvidia-uvm
  - path: /dev/nvidia-uvm-tools
  mounts:
  - hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14
    containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14
    options: [ro, nosuid, nodev, bind]
)";

TEST_CASE("a CDI spec gives an inventory keyed by UUID and the driver version") {
  auto spec = ParseCdiSpec(kSpec);
  REQUIRE(spec);
  CHECK(spec->kind == "nvidia.com/gpu");
  CHECK(spec->driver_version == "550.54.14");
  CHECK(spec->Inventory() == std::vector<std::string>{
                                 "GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c",
                                 "GPU-9a1b2c3d-0000-1111-2222-333344445555"});
}

TEST_CASE("resolving GPUs gives the common nodes and exactly the named devices") {
  auto spec = ParseCdiSpec(kSpec);
  REQUIRE(spec);
  auto edits = ResolveGpus(*spec, {"GPU-9a1b2c3d-0000-1111-2222-333344445555"});
  REQUIRE(edits);
  std::vector<std::string> paths;
  for (const auto& dn : edits->device_nodes) paths.push_back(dn.path);
  CHECK(paths == std::vector<std::string>{"/dev/nvidiactl", "/dev/nvidia-uvm",
                                          "/dev/nvidia-uvm-tools", "/dev/nvidia1"});
  CHECK(edits->device_nodes.back().host_path == "/host/dev/nvidia1");
  CHECK(edits->mounts.size() == 1);
}

TEST_CASE("an unknown GPU, or `all`, is refused by name") {
  auto spec = ParseCdiSpec(kSpec);
  REQUIRE(spec);
  auto bad = ResolveGpus(*spec, {"GPU-nope"});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "GPU 'GPU-nope' is not in this node's CDI spec");
  CHECK_FALSE(ResolveGpus(*spec, {"all"}));
}

TEST_CASE("a broken CDI spec is an error, not a crash") {
  CHECK_FALSE(ParseCdiSpec(""));
  CHECK_FALSE(ParseCdiSpec("cdiVersion: 0.5.0\nkind: x\ndevices: 3\n"));
  CHECK_FALSE(ParseCdiSpec("cdiVersion: 0.5.0\nkind: x\ndevices:\n- containerEdits: {}\n"));
  CHECK_FALSE(ParseCdiSpec("cdiVersion: 0.5.0\nkind: x\ndevices:\n- name: a\n"
                           "  containerEdits:\n    deviceNodes:\n    - path: relative\n"));
  CHECK_FALSE(ParseCdiSpec("[unclosed"));
}

TEST_CASE("GPU UUIDs come from the driver's /proc files, by device minor") {
  testing::TempDir dir;
  testing::WriteFile(dir / "0000:3b:00.0/information",
                     "Model: \t\t NVIDIA H200\nGPU UUID: \t GPU-6a1b2c3d-0000-1111-2222-333344445555\n"
                     "Bus Location: \t 0000:3b:00.0\nDevice Minor: \t 1\n");
  testing::WriteFile(dir / "0000:1a:00.0/information",
                     "GPU UUID: \t GPU-aaaaaaaa-0000-1111-2222-333344445555\nDevice Minor: \t 0\n");
  testing::WriteFile(dir / "broken/information", "Model: x\n");
  auto uuids = GpuUuidsByMinor(dir.path().string());
  REQUIRE(uuids.size() == 2);
  CHECK(uuids[0] == "GPU-aaaaaaaa-0000-1111-2222-333344445555");
  CHECK(uuids[1] == "GPU-6a1b2c3d-0000-1111-2222-333344445555");
  CHECK(GpuUuidsByMinor("/nonexistent").empty());
}

}  // namespace
}  // namespace sluss::sandbox
