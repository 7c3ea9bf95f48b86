#include "sandbox/cdi.h"

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

namespace sluss::sandbox {
namespace {

// The shape `nvidia-ctk cdi generate` writes (v1.16, abridged): devices
// by index and by UUID, /dev/dri nodes and their by-path links, hooks,
// versioned driver libraries.
constexpr const char* kSpec = R"(---
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
    - path: /dev/dri/card1
    - path: /dev/dri/renderD128
    hooks:
    - hookName: createContainer
      path: /usr/bin/nvidia-ctk
      args: [nvidia-ctk, hook, create-symlinks, --link, ../card1::/dev/dri/by-path/pci-0000:3b:00.0-card]
    - hookName: createContainer
      path: /usr/bin/nvidia-ctk
      args: [nvidia-ctk, hook, chmod, --mode, "755", --path, /dev/dri]
- name: GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
    - path: /dev/dri/card1
    - path: /dev/dri/renderD128
    hooks:
    - hookName: createContainer
      path: /usr/bin/nvidia-ctk
      args: [nvidia-ctk, hook, chmod, --mode, "755", --path, /dev/dri]
- name: "1"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia1
      hostPath: /host/dev/nvidia1
      type: c
      major: 195
      minor: 1
      fileMode: 0660
      permissions: rw
      uid: 0
      gid: 44
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
  hooks:
  - hookName: createContainer
    path: /usr/bin/nvidia-ctk
    args: [nvidia-ctk, hook, create-symlinks, --link, libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so]
    env: [NVIDIA_CTK_DEBUG=false]
    timeout: 30
  - hookName: createContainer
    path: /usr/bin/nvidia-ctk
    args: [nvidia-ctk, hook, update-ldcache, --folder, /usr/lib/x86_64-linux-gnu]
  mounts:
  - hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14
    containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14
    options: [ro, nosuid, nodev, bind]
  - hostPath: /run/nvidia-persistenced/socket
    containerPath: /run/nvidia-persistenced/socket
    options: [ro, nosuid, nodev, bind, noexec]
  additionalGids: [44]
)";

TEST_CASE("a CDI spec in nvidia-ctk's shape: every edit kind is read") {
  auto spec = ParseCdiSpec(kSpec);
  REQUIRE(spec);
  CHECK(spec->kind == "nvidia.com/gpu");
  CHECK(spec->driver_version == "550.54.14");
  REQUIRE(spec->common.hooks.size() == 2);
  const CdiHook& h = spec->common.hooks[0];
  CHECK(h.hook_name == "createContainer");
  CHECK(h.path == "/usr/bin/nvidia-ctk");
  CHECK(h.args == std::vector<std::string>{"nvidia-ctk", "hook", "create-symlinks", "--link",
                                           "libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so"});
  CHECK(h.env == std::vector<std::string>{"NVIDIA_CTK_DEBUG=false"});
  CHECK(h.timeout == 30);
  CHECK_FALSE(spec->common.hooks[1].timeout);
  CHECK(spec->common.additional_gids == std::vector<std::uint32_t>{44});
  CHECK(spec->common.mounts[1].options ==
        std::vector<std::string>{"ro", "nosuid", "nodev", "bind", "noexec"});
  const CdiDeviceNode& n = spec->devices.at("1").device_nodes[0];
  CHECK(n.host_path == "/host/dev/nvidia1");
  CHECK(n.type == "c");
  CHECK(n.major == 195);
  CHECK(n.minor == 1);
  CHECK(n.file_mode == 0660);  // octal, as YAML writes a mode
  CHECK(n.permissions == "rw");
  CHECK(n.uid == 0u);
  CHECK(n.gid == 44u);
  const CdiDeviceNode& plain = spec->devices.at("0").device_nodes[0];
  CHECK(plain.host_path == "/dev/nvidia0");
  CHECK_FALSE(plain.major);
  CHECK_FALSE(plain.file_mode);
}

TEST_CASE("the inventory: one name per GPU, by index, whatever names the spec gives") {
  auto spec = ParseCdiSpec(kSpec);
  REQUIRE(spec);
  // "0" and its UUID are the same GPU; "all" is none.
  CHECK(spec->Inventory() == std::vector<std::string>{"0", "1"});
  // Named by UUID alone (--device-name-strategy=uuid), the UUIDs.
  auto uuids = ParseCdiSpec(R"(cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- {name: GPU-b, containerEdits: {deviceNodes: [{path: /dev/nvidia1}]}}
- {name: GPU-a, containerEdits: {deviceNodes: [{path: /dev/nvidia0}]}}
- {name: all, containerEdits: {deviceNodes: [{path: /dev/nvidia0}, {path: /dev/nvidia1}]}}
)");
  REQUIRE(uuids);
  CHECK(uuids->Inventory() == std::vector<std::string>{"GPU-a", "GPU-b"});
}

TEST_CASE("the inventory: a GPU in MIG mode is given as its MIG devices") {
  auto spec = ParseCdiSpec(R"(cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- {name: "0", containerEdits: {deviceNodes: [{path: /dev/nvidia0}]}}
- {name: "0:0", containerEdits: {deviceNodes: [{path: /dev/nvidia0}, {path: /dev/nvidia-caps/nvidia-cap21}, {path: /dev/nvidia-caps/nvidia-cap22}]}}
- {name: "0:1", containerEdits: {deviceNodes: [{path: /dev/nvidia0}, {path: /dev/nvidia-caps/nvidia-cap30}, {path: /dev/nvidia-caps/nvidia-cap31}]}}
- {name: MIG-5f1e, containerEdits: {deviceNodes: [{path: /dev/nvidia0}, {path: /dev/nvidia-caps/nvidia-cap30}, {path: /dev/nvidia-caps/nvidia-cap31}]}}
- {name: "10", containerEdits: {deviceNodes: [{path: /dev/nvidia10}]}}
- {name: "2", containerEdits: {deviceNodes: [{path: /dev/nvidia2}]}}
)");
  REQUIRE(spec);
  CHECK(spec->Inventory() == std::vector<std::string>{"0:0", "0:1", "2", "10"});
}

TEST_CASE("resolving GPUs gives the common edits and exactly the named devices'") {
  auto spec = ParseCdiSpec(kSpec);
  REQUIRE(spec);
  auto edits = ResolveGpus(*spec, {"1"});
  REQUIRE(edits);
  std::vector<std::string> paths;
  for (const auto& dn : edits->device_nodes) paths.push_back(dn.path);
  CHECK(paths == std::vector<std::string>{"/dev/nvidiactl", "/dev/nvidia-uvm",
                                          "/dev/nvidia-uvm-tools", "/dev/nvidia1"});
  CHECK(edits->device_nodes.back().host_path == "/host/dev/nvidia1");
  CHECK(edits->mounts.size() == 2);
  CHECK(edits->hooks.size() == 2);
  // GPU 0 by both of its names would be given twice: the same chmod hook
  // runs once, each node is made once.
  auto zero = ResolveGpus(*spec, {"0", "GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c"});
  REQUIRE(zero);
  CHECK(zero->hooks.size() == 4);  // 2 common, create-symlinks of /dev/dri, chmod
  CHECK(zero->device_nodes.size() == 6);
}

TEST_CASE("an unknown GPU, `all`, or the same name twice is refused by name") {
  auto spec = ParseCdiSpec(kSpec);
  REQUIRE(spec);
  auto bad = ResolveGpus(*spec, {"GPU-nope"});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "GPU 'GPU-nope' is not in this node's CDI spec");
  CHECK_FALSE(ResolveGpus(*spec, {"all"}));
  CHECK_FALSE(ResolveGpus(*spec, {"1", "1"}));
}

TEST_CASE("an edit sluss cannot apply is an error naming it, never dropped") {
  auto with = [](const std::string& edits) {
    return ParseCdiSpec("cdiVersion: 0.6.0\nkind: nvidia.com/gpu\ndevices:\n- name: a\n"
                        "  containerEdits:\n" + edits);
  };
  auto rdt = with("    intelRdt: {closID: x}\n");
  REQUIRE_FALSE(rdt);
  CHECK(rdt.error().message.find("'intelRdt'") != std::string::npos);
  CHECK(rdt.error().message.find("line 6") != std::string::npos);
  auto typo = with("    mounts:\n    - {hostpath: /a, containerPath: /a}\n");
  REQUIRE_FALSE(typo);
  CHECK(typo.error().message.find("'hostpath'") != std::string::npos);
  CHECK_FALSE(with("    hooks:\n    - {hookName: beforeStart, path: /bin/true}\n"));
  CHECK_FALSE(with("    hooks:\n    - {hookName: prestart, path: relative}\n"));
  CHECK_FALSE(with("    hooks:\n    - {hookName: prestart, path: /bin/true, timeout: -1}\n"));
  CHECK_FALSE(with("    deviceNodes:\n    - {path: /dev/x, type: q}\n"));
  CHECK_FALSE(with("    deviceNodes:\n    - {path: /dev/x, major: 1}\n"));
  CHECK_FALSE(with("    deviceNodes:\n    - {path: /dev/x, permissions: rwx}\n"));
  CHECK_FALSE(with("    deviceNodes:\n    - {path: /dev/x, fileMode: 0999}\n"));
  CHECK_FALSE(with("    additionalGids: [0]\n"));
  CHECK_FALSE(with("    additionalGids: [video]\n"));
  CHECK_FALSE(with("    env: [NOEQUALS]\n"));
  CHECK(with("    additionalGids: [44]\n    env: [A=b]\n"));
}

TEST_CASE("what no GPU vendor's spec needs is refused, naming the entry and why") {
  auto spec = [](const std::string& edits) {
    auto s = ParseCdiSpec("cdiVersion: 0.6.0\nkind: nvidia.com/gpu\ndevices:\n- name: \"0\"\n"
                          "  containerEdits:\n" + edits);
    REQUIRE(s);
    return *s;
  };
  auto refused = [&](const std::string& edits, const std::string& words) {
    auto r = CheckCdiSafety(spec(edits), {"/var/lib/sluss"});
    REQUIRE_FALSE(r);
    INFO(r.error().message);
    CHECK(r.error().message.find("device '0'") != std::string::npos);
    CHECK(r.error().message.find(words) != std::string::npos);
  };
  auto mount = [](const std::string& host) {
    return "    mounts:\n    - {hostPath: " + host + ", containerPath: /host, options: [ro]}\n";
  };
  refused(mount("/"), "the mount of host / at /host is refused: it is /");
  refused(mount("/usr/.."), "it is /,");
  for (const char* dir : {"/etc", "/root", "/home", "/proc", "/sys", "/etc/"})
    refused(mount(dir), "is refused: it is");
  refused(mount("/var"), "it holds /var/lib/sluss");
  refused(mount("/var/lib/sluss"), "it is /var/lib/sluss");
  refused(mount("/var/lib/sluss/datasets/d1"), "it is inside /var/lib/sluss");
  refused(mount("/home/alice/.ssh"), "it is inside /home");
  refused("    deviceNodes:\n    - {path: /dev/loop0, type: b}\n", "block device");
  // The runtime binds a mount with a bind option whatever its type says;
  // other types open the host as binds do.
  refused("    mounts:\n    - {hostPath: /, containerPath: /h, type: tmpfs, options: [rbind]}\n",
          "the tmpfs mount at /h is refused: only bind mounts (and tmpfs)");
  refused("    mounts:\n    - {hostPath: overlay, containerPath: /h, type: overlay, "
          "options: [lowerdir=/]}\n",
          "the overlay mount at /h is refused");
  refused("    mounts:\n    - {hostPath: devtmpfs, containerPath: /h, type: devtmpfs}\n",
          "the devtmpfs mount at /h is refused");
  for (const char* phase : {"prestart", "createRuntime", "poststart", "poststop"})
    refused(std::string("    hooks:\n    - {hookName: ") + phase + ", path: /bin/true}\n",
            std::string("the ") + phase + " hook /bin/true is refused");
  // The spec-level edits are named as such.
  auto common = ParseCdiSpec("cdiVersion: 0.6.0\nkind: nvidia.com/gpu\ndevices: []\n"
                             "containerEdits:\n  mounts:\n  - {hostPath: /etc, containerPath: /e}\n");
  REQUIRE(common);
  auto r = CheckCdiSafety(*common, {});
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("the spec's containerEdits: the mount of host /etc") == 0);
  // What nvidia-ctk writes passes: files under /etc and /run, createContainer
  // and startContainer hooks, character devices, tmpfs.
  CHECK(CheckCdiSafety(spec("    mounts:\n"
                            "    - {hostPath: /etc/vulkan/icd.d/nvidia_icd.json, containerPath: /etc/vulkan/icd.d/nvidia_icd.json}\n"
                            "    - {hostPath: tmpfs, containerPath: /x, type: tmpfs}\n"
                            "    - {hostPath: /var/lib/sluss-other/x, containerPath: /y}\n"
                            "    deviceNodes:\n    - {path: /dev/nvidia0, type: c}\n"
                            "    hooks:\n    - {hookName: startContainer, path: /bin/true}\n"),
                       {"/var/lib/sluss"}));
  auto nvidia = ParseCdiSpec(kSpec);
  REQUIRE(nvidia);
  CHECK(CheckCdiSafety(*nvidia, {"/var/lib/sluss"}));
}

TEST_CASE("a broken CDI spec is an error, not a crash") {
  CHECK_FALSE(ParseCdiSpec(""));
  CHECK_FALSE(ParseCdiSpec("cdiVersion: 0.5.0\nkind: x\ndevices: 3\n"));
  CHECK_FALSE(ParseCdiSpec("cdiVersion: 0.5.0\nkind: x\ndevices:\n- containerEdits: {}\n"));
  CHECK_FALSE(ParseCdiSpec("cdiVersion: 0.5.0\nkind: x\ndevices:\n- name: a\n"
                           "  containerEdits:\n    deviceNodes:\n    - path: relative\n"));
  CHECK_FALSE(ParseCdiSpec("[unclosed"));
  CHECK_FALSE(ParseCdiSpec("cdiVersion: 0.5.0\nkind: x\ndevices: []\ncontainerEdits: [1]\n"));
  CHECK_FALSE(ParseCdiSpec("cdiVersion: 0.5.0\nkind: x\ndevices: []\nextra: 1\n"));
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
