#include "sandbox/oci.h"

#include <algorithm>
#include <map>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace sluss::sandbox {
namespace {

using nlohmann::json;

RunSpec Spec() {
  RunSpec s;
  s.id = "sluss-7-1";
  s.image = {"host", "sha256:ab", "/images/host", {"/usr"}};
  s.argv = {"Rscript", "table1.R"};
  s.workspace = "/jobs/7/workspace";
  s.datasets = {{"rx", "v1", "/srv/rx"}};
  s.inputs = {{"output/cohort.csv", "/jobs/6/outputs/output/cohort.csv"}};
  s.limits.memory_bytes = 512 << 20;
  s.limits.milli_cpus = 1500;
  s.limits.pids = 100;
  return s;
}

const json* MountAt(const json& config, const std::string& dest) {
  for (const auto& m : config["mounts"])
    if (m["destination"] == dest) return &m;
  return nullptr;
}

bool Has(const json& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

TEST_CASE("config.json: a non-root process with no capabilities and no new privileges") {
  json c = OciConfig(Spec(), {.output_dir = "/jobs/7/output-mnt"});
  CHECK(c["process"]["user"]["uid"] == 10000);
  CHECK(c["process"]["user"]["gid"] == 10000);
  CHECK(c["process"]["noNewPrivileges"] == true);
  for (const char* set : {"bounding", "effective", "inheritable", "permitted", "ambient"})
    CHECK(c["process"]["capabilities"][set].empty());
  CHECK(c["root"]["readonly"] == true);
  CHECK(c["process"]["args"] == json({"Rscript", "table1.R"}));
}

TEST_CASE("config.json: every namespace but user, and no network but loopback") {
  json c = OciConfig(Spec(), {.output_dir = "/o"});
  std::vector<std::string> types;
  for (const auto& ns : c["linux"]["namespaces"]) {
    CHECK_FALSE(ns.contains("path"));  // new namespaces, never the host's
    types.push_back(ns["type"]);
  }
  std::sort(types.begin(), types.end());
  CHECK(types == std::vector<std::string>{"cgroup", "ipc", "mount", "network", "pid", "uts"});
}

TEST_CASE("config.json: code, data and inputs read-only, only output writable") {
  json c = OciConfig(Spec(), {.output_dir = "/jobs/7/output-mnt"});
  const json* ws = MountAt(c, "/workspace");
  REQUIRE(ws);
  CHECK(Has((*ws)["options"], "ro"));
  const json* data = MountAt(c, "/data/rx");
  REQUIRE(data);
  CHECK((*data)["source"] == "/srv/rx");
  for (const char* opt : {"ro", "nosuid", "nodev"}) CHECK(Has((*data)["options"], opt));
  const json* in = MountAt(c, "/workspace/output/cohort.csv");
  REQUIRE(in);
  CHECK(Has((*in)["options"], "ro"));
  const json* out = MountAt(c, "/workspace/output");
  REQUIRE(out);
  CHECK((*out)["source"] == "/jobs/7/output-mnt");
  CHECK(Has((*out)["options"], "rw"));
  const json* usr = MountAt(c, "/usr");
  REQUIRE(usr);
  CHECK(Has((*usr)["options"], "ro"));
  const json* tmp = MountAt(c, "/tmp");
  REQUIRE(tmp);
  CHECK(Has((*tmp)["options"], "size=1073741824"));
  // The output mount comes after /workspace, and the inputs after it.
  auto index = [&](const std::string& d) {
    for (std::size_t i = 0; i < c["mounts"].size(); ++i)
      if (c["mounts"][i]["destination"] == d) return i;
    return std::size_t{999};
  };
  CHECK(index("/workspace") < index("/workspace/output"));
  CHECK(index("/workspace/output") < index("/workspace/output/cohort.csv"));
  CHECK(index("/data") < index("/data/rx"));
}

TEST_CASE("config.json: cgroup limits, no swap, masked /proc paths") {
  json c = OciConfig(Spec(), {.output_dir = "/o"});
  const json& r = c["linux"]["resources"];
  CHECK(r["memory"]["limit"] == 512 << 20);
  CHECK(r["memory"]["swap"] == 512 << 20);
  CHECK(r["cpu"]["quota"] == 150000);
  CHECK(r["cpu"]["period"] == 100000);
  CHECK(r["pids"]["limit"] == 100);
  CHECK(c["linux"]["cgroupsPath"] == "/sluss/sluss-7-1/job");
  CHECK(Has(c["linux"]["maskedPaths"], "/proc/kcore"));
  CHECK(Has(c["linux"]["readonlyPaths"], "/proc/sys"));
  CHECK_FALSE(r["memory"].contains("kernelTCP"));
  // cgroup v1: TCP buffers are charged only under a limit of their own.
  json v1 = OciConfig(Spec(), {.output_dir = "/o", .limit_kernel_tcp = true});
  CHECK(v1["linux"]["resources"]["memory"]["kernelTCP"] == 512 << 20);
}

TEST_CASE("config.json: no file may outgrow the larger writable space, /tmp keeps its size") {
  RunSpec s = Spec();
  s.limits.output_bytes = 64LL << 20;
  s.limits.tmp_bytes = 1LL << 30;
  json c = OciConfig(s, {.output_dir = "/o"});
  for (const auto& r : c["process"]["rlimits"])
    if (r["type"] == "RLIMIT_FSIZE") CHECK(r["hard"] == 1LL << 30);
}

TEST_CASE("config.json: GPUs are exactly the granted devices, after a default deny") {
  BundleInputs in{.output_dir = "/o",
                  .devices = {{.path = "/dev/nvidia1", .major = 195, .minor = 1},
                              {.path = "/dev/nvidiactl", .major = 195, .minor = 255,
                               .access = "rw"},
                              {.path = "/dev/dri/renderD128", .major = 226, .minor = 128,
                               .file_mode = 0660, .gid = 44}}};
  RunSpec s = Spec();
  s.gpus = {"GPU-a", "3"};
  json c = OciConfig(s, in);
  const json& rules = c["linux"]["resources"]["devices"];
  REQUIRE(rules.size() == 4);
  CHECK(rules[0] == json({{"allow", false}, {"access", "rwm"}}));
  CHECK(rules[1] == json({{"allow", true}, {"type", "c"}, {"major", 195}, {"minor", 1},
                          {"access", "rwm"}}));
  CHECK(rules[2]["access"] == "rw");
  REQUIRE(c["linux"]["devices"].size() == 3);
  CHECK(c["linux"]["devices"][2] == json({{"path", "/dev/dri/renderD128"}, {"type", "c"},
                                          {"major", 226}, {"minor", 128}, {"fileMode", 0660},
                                          {"uid", 0}, {"gid", 44}}));
  // Numbered from 0 inside, as CUDA numbers what it sees.
  CHECK(Has(c["process"]["env"], "NVIDIA_VISIBLE_DEVICES=0,1"));
  CHECK(Has(c["process"]["env"], "CUDA_VISIBLE_DEVICES=0,1"));
  json none = OciConfig(Spec(), {.output_dir = "/o"});
  CHECK(none["linux"]["devices"].empty());
  CHECK(Has(none["process"]["env"], "NVIDIA_VISIBLE_DEVICES=void"));
  CHECK_FALSE(none.contains("hooks"));
}

// What the device cgroup lets through for (type, major, minor, access), as
// runc applies linux.resources.devices: in order, the last matching rule
// decides (v1 writes them to devices.deny/allow; v2 compiles the same list
// into the cgroup's eBPF device program).
bool Allowed(const json& rules, const std::string& type, std::int64_t major, std::int64_t minor,
             char access) {
  bool allowed = false;
  for (const auto& r : rules) {
    if (r.contains("type") && r["type"] != "a" && r["type"] != type) continue;
    if (r.contains("major") && r["major"] != -1 && r["major"] != major) continue;
    if (r.contains("minor") && r["minor"] != -1 && r["minor"] != minor) continue;
    if (r["access"].get<std::string>().find(access) == std::string::npos) continue;
    allowed = r["allow"].get<bool>();
  }
  return allowed;
}

TEST_CASE("config.json: the device cgroup, v1 or v2, lets through exactly the job's nodes") {
  // Nodes of distinct numbers, as tests/gpu_test.sh makes them.
  BundleInputs in{.output_dir = "/o",
                  .devices = {{.path = "/dev/nvidia0", .major = 10, .minor = 229},
                              {.path = "/dev/nvidiactl", .major = 10, .minor = 256},
                              {.path = "/dev/dri/renderD128", .major = 10, .minor = 237,
                               .access = "rw"},
                              {.path = "/dev/sda", .major = 8, .minor = 0, .type = "b",
                               .access = "r"},
                              {.path = "/run/fifo", .type = "p"}}};
  RunSpec s = Spec();
  s.gpus = {"0"};
  for (bool v1 : {true, false}) {
    in.limit_kernel_tcp = v1;
    json rules = OciConfig(s, in)["linux"]["resources"]["devices"];
    CHECK(Allowed(rules, "c", 10, 229, 'r'));
    CHECK(Allowed(rules, "c", 10, 229, 'w'));
    CHECK(Allowed(rules, "c", 10, 256, 'w'));
    CHECK(Allowed(rules, "c", 10, 237, 'w'));
    CHECK_FALSE(Allowed(rules, "c", 10, 237, 'm'));
    CHECK(Allowed(rules, "b", 8, 0, 'r'));
    CHECK_FALSE(Allowed(rules, "b", 8, 0, 'w'));
    CHECK_FALSE(Allowed(rules, "c", 8, 0, 'r'));  // the type counts
    // Another GPU's node (/dev/nvidia1 as kmsg, 1:11) and a neighbour.
    CHECK_FALSE(Allowed(rules, "c", 1, 11, 'w'));
    CHECK_FALSE(Allowed(rules, "c", 10, 230, 'r'));
    CHECK_FALSE(Allowed(rules, "c", 195, 0, 'r'));
    // A FIFO is made, but is nothing the device cgroup knows.
    CHECK(rules.size() == 5);
  }
  CHECK_FALSE(Allowed(OciConfig(Spec(), {.output_dir = "/o"})["linux"]["resources"]["devices"],
                      "c", 10, 229, 'r'));
}

TEST_CASE("config.json: the CDI spec's hooks, mounts, groups and env, on the job's own root") {
  BundleInputs in{.output_dir = "/o",
                  .gpu_mounts = {{"/usr/lib/libcuda.so.550.1", "/usr/lib/libcuda.so.550.1", "",
                                  {"rw", "bind"}},
                                 {"tmpfs", "/var/run/nv", "tmpfs", {"size=1m"}}},
                  .gpu_env = {"NVIDIA_VISIBLE_DEVICES=void", "CUDA_VISIBLE_DEVICES=7",
                              "NVIDIA_DRIVER_CAPABILITIES=compute"},
                  .gpu_hooks = {{"createContainer", "/usr/bin/nvidia-ctk",
                                 {"nvidia-ctk", "hook", "update-ldcache"}, {"A=b"}, 5},
                                {"createContainer", "/usr/bin/nvidia-ctk",
                                 {"nvidia-ctk", "hook", "create-symlinks"}, {}, std::nullopt},
                                {"poststop", "/bin/true", {}, {}, std::nullopt}},
                  .additional_gids = {44},
                  .rootfs = "/jobs/1/rootfs"};
  RunSpec s = Spec();
  s.gpus = {"0"};
  json c = OciConfig(s, in);
  CHECK(c["root"] == json({{"path", "/jobs/1/rootfs"}, {"readonly", true}}));
  REQUIRE(c["hooks"]["createContainer"].size() == 2);
  CHECK(c["hooks"]["createContainer"][0] ==
        json({{"path", "/usr/bin/nvidia-ctk"},
              {"args", {"nvidia-ctk", "hook", "update-ldcache"}},
              {"env", {"A=b"}},
              {"timeout", 5}}));
  CHECK(c["hooks"]["createContainer"][1] ==
        json({{"path", "/usr/bin/nvidia-ctk"}, {"args", {"nvidia-ctk", "hook", "create-symlinks"}}}));
  CHECK(c["hooks"]["poststop"].size() == 1);
  CHECK(c["process"]["user"]["additionalGids"] == json({44}));
  CHECK(Has(c["process"]["env"], "NVIDIA_DRIVER_CAPABILITIES=compute"));
  CHECK_FALSE(Has(c["process"]["env"], "CUDA_VISIBLE_DEVICES=7"));
  CHECK(Has(c["process"]["env"], "CUDA_VISIBLE_DEVICES=0"));
  json lib, tmp;
  for (const auto& m : c["mounts"]) {
    if (m["destination"] == "/usr/lib/libcuda.so.550.1") lib = m;
    if (m["destination"] == "/var/run/nv") tmp = m;
  }
  // A driver's files are read-only, whatever the spec says.
  CHECK(lib["type"] == "bind");
  CHECK(Has(lib["options"], "ro"));
  CHECK_FALSE(Has(lib["options"], "rw"));
  CHECK(Has(lib["options"], "nosuid"));
  CHECK(tmp["type"] == "tmpfs");
  CHECK(tmp["source"] == "tmpfs");
  CHECK(Has(tmp["options"], "size=1m"));
  CHECK(Has(tmp["options"], "nodev"));
  // crun runs createContainer hooks after making the root read-only: the
  // job's own layer stays writable for them; the image's directory never.
  in.rootfs_writable = true;
  CHECK(OciConfig(s, in)["root"]["readonly"] == false);
  in.rootfs.clear();
  CHECK(OciConfig(s, in)["root"]["readonly"] == true);
  // Without a layer, the image's own directory.
  CHECK(OciConfig(Spec(), {.output_dir = "/o"})["root"]["path"] == Spec().image.rootfs);
}

TEST_CASE("seccomp: an allowlist without the calls that reach outside the job") {
  json p = SeccompProfile();
  CHECK(p["defaultAction"] == "SCMP_ACT_ERRNO");
  std::vector<std::string> allowed;
  for (const auto& rule : p["syscalls"])
    if (rule["action"] == "SCMP_ACT_ALLOW" && !rule.contains("args"))
      for (const auto& n : rule["names"]) allowed.push_back(n);
  CHECK(allowed.size() > 200);
  for (const char* banned : {"ptrace", "unshare", "setns", "mount", "umount2", "bpf", "keyctl",
                             "add_key", "request_key", "userfaultfd", "io_uring_setup",
                             "io_uring_enter", "io_uring_register", "process_vm_readv",
                             "process_vm_writev", "perf_event_open", "kexec_load",
                             "init_module", "finit_module", "pivot_root", "chroot",
                             "clone", "clone3", "mknod", "personality", "syslog"})
    CHECK_FALSE(Has(allowed, banned));
  // clone only without namespace flags; clone3 says ENOSYS.
  bool clone_masked = false, clone3_enosys = false;
  for (const auto& rule : p["syscalls"]) {
    if (rule["names"] == json({"clone"}))
      clone_masked = rule["args"][0]["op"] == "SCMP_CMP_MASKED_EQ" &&
                     (rule["args"][0]["value"].get<std::uint64_t>() & 0x10000000) != 0;
    if (rule["names"] == json({"clone3"})) clone3_enosys = rule["errnoRet"] == 38;
  }
  CHECK(clone_masked);
  CHECK(clone3_enosys);
}

TEST_CASE("seccomp: sockets only in the families a job needs") {
  json p = SeccompProfile();
  // family -> the protocols allowed (-1: any)
  std::map<std::uint64_t, std::vector<std::int64_t>> socket_rules;
  std::vector<std::uint64_t> socketpair_families;
  for (const auto& rule : p["syscalls"]) {
    if (rule["action"] != "SCMP_ACT_ALLOW") continue;
    for (const auto& n : rule["names"]) {
      if (n != "socket" && n != "socketpair") continue;
      REQUIRE(rule.contains("args"));  // never unconditionally
      std::uint64_t family = 0;
      std::int64_t protocol = -1;
      for (const auto& a : rule["args"]) {
        CHECK(a["op"] == "SCMP_CMP_EQ");
        if (a["index"] == 0) family = a["value"].get<std::uint64_t>();
        if (a["index"] == 2) protocol = a["value"].get<std::int64_t>();
      }
      if (n == "socket") socket_rules[family].push_back(protocol);
      else socketpair_families.push_back(family);
    }
  }
  using Rules = std::map<std::uint64_t, std::vector<std::int64_t>>;
  // AF_UNIX, AF_INET, AF_INET6 any protocol; AF_NETLINK only NETLINK_ROUTE.
  CHECK(socket_rules == Rules{{1, {-1}}, {2, {-1}}, {10, {-1}}, {16, {0}}});
  CHECK(socketpair_families == std::vector<std::uint64_t>{1});
}

}  // namespace
}  // namespace sluss::sandbox
