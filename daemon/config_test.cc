#include "daemon/config.h"
#include "daemon/sinfo.h"

#include <catch2/catch.hpp>

using namespace sluss::daemon;

namespace {
std::vector<std::string> Errors(std::string_view text) {
  auto c = ParseConfig(text, "slussd.yaml");
  std::vector<std::string> out;
  if (!c) {
    for (const auto& d : c.error()) out.push_back(d.ToString());
  }
  return out;
}
}  // namespace

TEST_CASE("an empty config file means all defaults") {
  auto c = ParseConfig("", "slussd.yaml");
  REQUIRE(c);
  CHECK(c->state_dir == ".sluss");
  CHECK(c->listen_host == "127.0.0.1");
  CHECK(c->listen_port == 8470);
  CHECK(c->runtime == "runc");
}

TEST_CASE("a full config is read") {
  auto c = ParseConfig(R"(state_dir: /var/lib/sluss
listen: "[::1]:9000"
runtime: {name: crun, path: /usr/bin/crun}
executor: local
node: {name: gpu01, cpus: 64, memory: 512G, gpus: [0, 1, 2, 3]}
images:
  python-3.11: {rootfs: /srv/images/python-3.11}
tls: {cert: /etc/sluss/cert.pem, key: /etc/sluss/key.pem}
log_level: debug
)", "slussd.yaml");
  REQUIRE(c);
  CHECK(c->listen_host == "::1");
  CHECK(c->listen_port == 9000);
  CHECK(c->runtime == "crun");
  CHECK(c->node_milli_cpus == 64000);
  CHECK(c->node_memory_bytes == 512LL << 30);
  CHECK(c->node_gpus == std::vector<std::string>{"0", "1", "2", "3"});
  CHECK(c->images.at("python-3.11").rootfs == "/srv/images/python-3.11");
  CHECK(c->DatabasePath() == "/var/lib/sluss/sluss.db");
}

TEST_CASE("GPUs are named as nvidia-ctk names them, absent, the CDI spec's") {
  auto c = ParseConfig("node: {gpus: [GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c, \"0:1\", 3]}\n",
                       "slussd.yaml");
  REQUIRE(c);
  CHECK(c->node_gpus == std::vector<std::string>{"GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c",
                                                 "0:1", "3"});
  auto none = ParseConfig("node: {gpus: []}\n", "slussd.yaml");
  REQUIRE(none);
  CHECK(none->node_gpus == std::vector<std::string>{});
  auto all = ParseConfig("node: {cpus: 4}\n", "slussd.yaml");
  REQUIRE(all);
  CHECK_FALSE(all->node_gpus.has_value());
  CHECK(Errors("node: {gpus: [0, 0]}\n") ==
        std::vector<std::string>{"slussd.yaml:1:18: node.gpus: GPU '0' is listed twice"});
  CHECK(Errors("node: {gpus: [all]}\n") ==
        std::vector<std::string>{
            "slussd.yaml:1:15: node.gpus: name the GPUs, or leave node.gpus out for all of them"});
  CHECK(Errors("node: {gpus: [/dev/nvidia0]}\n") ==
        std::vector<std::string>{"slussd.yaml:1:15: node.gpus: '/dev/nvidia0' is not a GPU name "
                                 "(an index such as 0, a MIG device such as 0:1, or GPU-<uuid>)"});
}

TEST_CASE("bad config keys are named with their position") {
  CHECK(Errors("state_dri: /x\n") ==
        std::vector<std::string>{"slussd.yaml:1:1: unknown key 'state_dri' (did you mean 'state_dir'?)"});
  CHECK(Errors("listen: localhost\n") ==
        std::vector<std::string>{"slussd.yaml:1:9: listen: 'localhost' is not HOST:PORT (e.g. 127.0.0.1:8470)"});
  CHECK(Errors("runtime: {name: docker}\n") ==
        std::vector<std::string>{"slussd.yaml:1:17: runtime.name: 'docker' is not one of runc, crun"});
  CHECK(Errors("node: {memory: 12Q, gpus: 2}\n") ==
        std::vector<std::string>{
            "slussd.yaml:1:16: node.memory: memory size '12Q': unknown unit 'Q'; use K, M, G, T or P (powers of 1024), e.g. 16G or 512M",
            "slussd.yaml:1:27: node.gpus: expected a list of GPU names as the CDI spec gives them, such as [0, 1] or [GPU-4cf8db2d-...], got a single value"});
  CHECK(Errors("images:\n  py: {root: /x}\n") ==
        std::vector<std::string>{"slussd.yaml:2:7: images.py: missing 'rootfs' (the image's root directory), or 'host: true'",
                                 "slussd.yaml:2:8: images.py: unknown key 'root' (did you mean 'rootfs'?)"});
  CHECK(Errors("tls: {cert: /c}\n") ==
        std::vector<std::string>{"slussd.yaml:1:6: tls: set both 'cert' and 'key', or neither"});
  CHECK(Errors("log_level: loud\nexecutor: slurmm\n") ==
        std::vector<std::string>{"slussd.yaml:1:12: log_level: 'loud' is not one of debug, info, warn, error",
                                 "slussd.yaml:2:11: executor: 'slurmm' is not one of local, slurm (did you mean 'slurm'?)"});
}

TEST_CASE("git: poll interval, fetch timeout and credentials by URL prefix") {
  auto c = ParseConfig(R"(git:
  poll_interval: 2m
  fetch_timeout: 90s
  max_workspace: 256M
  credentials:
    - {url: "https://gitlab.example.org/", username: oauth2, token_file: /etc/sluss/gitlab.token}
    - {url: "ssh://git@git.example.org/", ssh_key: /etc/sluss/deploy, known_hosts: /etc/sluss/known_hosts}
)", "slussd.yaml");
  REQUIRE(c);
  CHECK(c->git_poll_seconds == 120);
  CHECK(c->git_fetch_timeout_seconds == 90);
  CHECK(c->git_max_workspace_bytes == 256LL << 20);
  REQUIRE(c->git_credentials.size() == 2);
  CHECK(c->git_credentials[0].token_file == "/etc/sluss/gitlab.token");
  CHECK(c->git_credentials[0].username == "oauth2");
  CHECK(c->git_credentials[1].ssh_key == "/etc/sluss/deploy");
  CHECK(c->git_credentials[1].known_hosts == "/etc/sluss/known_hosts");
  CHECK(Errors("git:\n  credentials:\n    - {token_file: /t}\n    - {url: x, token_file: /t, ssh_key: /k}\n"
               "    - {url: y, password: hunter2}\n") ==
        std::vector<std::string>{
            "slussd.yaml:3:7: git.credentials[0].url: is required: the URL prefix these credentials are for",
            "slussd.yaml:4:7: git.credentials[1]: needs exactly one of token_file (HTTPS) and ssh_key (SSH)",
            "slussd.yaml:5:7: git.credentials[2]: needs exactly one of token_file (HTTPS) and ssh_key (SSH)",
            "slussd.yaml:5:16: git.credentials[2]: unknown key 'password' (expected one of: url, username, token_file, ssh_key, known_hosts)"});
  CHECK(Errors("git: {require_signed: true}\n") ==
        std::vector<std::string>{"slussd.yaml:1:23: git.require_signed: needs git.allowed_signers or "
                                 "git.gpg_keyring: the keys that may sign"});
  CHECK(Errors("git: {fetch_timeout: 0s}\n") ==
        std::vector<std::string>{"slussd.yaml:1:22: git.fetch_timeout: must be at least 1s"});
  CHECK(Errors("git: {max_workspace: 10K}\n") ==
        std::vector<std::string>{"slussd.yaml:1:22: git.max_workspace: must be at least 1M"});
}

TEST_CASE("executor: slurm with its settings is read, what it cannot honour is refused") {
  auto c = ParseConfig(R"(executor: slurm
slurm: {partition: gpu, account: study, qos: high, conf: /etc/slurm/slurm.conf,
        poll_interval: 2s, lost_grace: 90s, accounting: none}
)", "slussd.yaml");
  REQUIRE(c);
  CHECK(c->executor == "slurm");
  CHECK(c->slurm.partition == "gpu");
  CHECK(c->slurm.account == "study");
  CHECK(c->slurm.qos == "high");
  CHECK(c->slurm.conf == "/etc/slurm/slurm.conf");
  CHECK(c->slurm.poll_seconds == 2);
  CHECK(c->slurm.lost_grace_seconds == 90);
  CHECK(c->slurm.accounting == "none");
  auto d = ParseConfig("executor: slurm\n", "slussd.yaml");
  REQUIRE(d);
  CHECK(d->slurm.poll_seconds == 5);
  CHECK(d->slurm.accounting == "auto");

  auto e = Errors("slurm: {partition: gpu}\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].find("executor is not slurm") != std::string::npos);
  // On Slurm, node.gpus are the GPUs sluss may admit at once; which ones
  // a job gets is Slurm's choice on its node.
  auto g = ParseConfig("executor: slurm\nnode: {gpus: [0, 1]}\n", "slussd.yaml");
  REQUIRE(g);
  CHECK(g->node_gpus == std::vector<std::string>{"0", "1"});
  e = Errors("executor: slurm\nslurm: {partition: \"a b\", poll_interval: 0s, accounting: maybe, sqos: x}\n");
  CHECK(e.size() == 4);
}

TEST_CASE("git.max_actions_per_run: none by default, a whole number of at least 1 when set") {
  auto none = ParseConfig("", "slussd.yaml");
  REQUIRE(none);
  CHECK(none->git_max_actions_per_run == 0);
  auto set = ParseConfig("git: {max_actions_per_run: 5000}\n", "slussd.yaml");
  REQUIRE(set);
  CHECK(set->git_max_actions_per_run == 5000);
  CHECK_FALSE(Errors("git: {max_actions_per_run: 0}\n").empty());
  CHECK_FALSE(Errors("git: {max_actions_per_run: many}\n").empty());
}

TEST_CASE("git: the git service's limits, with their defaults, validated") {
  auto d = ParseConfig("", "slussd.yaml");
  REQUIRE(d);
  CHECK(d->git_max_requests == 16);
  CHECK(d->git_max_requests_per_person == 4);
  CHECK(d->git_request_timeout_seconds == 600);
  CHECK(d->git_max_fetch_request_bytes == 16LL << 20);
  auto c = ParseConfig(
      "git: {max_requests: 32, max_requests_per_person: 8, request_timeout: 15m, "
      "max_fetch_request: 4M}\n",
      "slussd.yaml");
  REQUIRE(c);
  CHECK(c->git_max_requests == 32);
  CHECK(c->git_max_requests_per_person == 8);
  CHECK(c->git_request_timeout_seconds == 900);
  CHECK(c->git_max_fetch_request_bytes == 4LL << 20);
  CHECK(Errors("git: {max_requests: 0}\n") ==
        std::vector<std::string>{
            "slussd.yaml:1:21: git.max_requests: expected a whole number from 1 to 1024"});
  CHECK(Errors("git: {max_requests: -3}\n") ==
        std::vector<std::string>{
            "slussd.yaml:1:21: git.max_requests: expected a whole number from 1 to 1024"});
  CHECK(Errors("git: {max_requests: 2, max_requests_per_person: 3}\n") ==
        std::vector<std::string>{"slussd.yaml:1:49: git.max_requests_per_person: must not be more "
                                 "than git.max_requests (2)"});
  CHECK(Errors("git: {request_timeout: 1s}\n") ==
        std::vector<std::string>{"slussd.yaml:1:24: git.request_timeout: must be from 10s to 1d"});
  CHECK(
      Errors("git: {max_fetch_request: 1K}\n") ==
      std::vector<std::string>{"slussd.yaml:1:26: git.max_fetch_request: must be from 64K to 1G"});
}

TEST_CASE("pools: several, each with its executor, capacity and projects") {
  auto c = ParseConfig(R"(pools:
  - {name: small, executor: local, cpus: 2, memory: 4G, gpus: [0]}
  - name: hpc
    executor: slurm
    partition: gpu
    account: study
    cpus: 256
    projects: [cohort-study, other]
slurm: {conf: /etc/slurm/slurm.conf, poll_interval: 2s}
node: {disk_reserve: 2G}
)", "slussd.yaml");
  REQUIRE(c);
  CHECK_FALSE(c->pools_shorthand);
  REQUIRE(c->pools.size() == 2);
  CHECK(c->pools[0].name == "small");
  CHECK(c->pools[0].executor == "local");
  CHECK(c->pools[0].milli_cpus == 2000);
  CHECK(c->pools[0].memory_bytes == 4LL << 30);
  CHECK(c->pools[0].gpus == std::vector<std::string>{"0"});
  CHECK(c->pools[0].projects.empty());
  CHECK(c->pools[1].executor == "slurm");
  CHECK(c->pools[1].partition == "gpu");
  CHECK(c->pools[1].account == "study");
  CHECK(c->pools[1].memory_bytes == 0);  // sinfo's at start
  CHECK(c->pools[1].projects == std::vector<std::string>{"cohort-study", "other"});
  CHECK(c->slurm.poll_seconds == 2);
  CHECK(c->disk_reserve_bytes == 2LL << 30);
}

TEST_CASE("without pools:, executor, node and slurm are the shorthand for one pool") {
  auto c = ParseConfig("node: {name: gpu01, cpus: 8, memory: 16G, gpus: [0, 1]}\n", "slussd.yaml");
  REQUIRE(c);
  CHECK(c->pools_shorthand);
  REQUIRE(c->pools.size() == 1);
  CHECK(c->pools[0].name == "gpu01");
  CHECK(c->pools[0].executor == "local");
  CHECK(c->pools[0].milli_cpus == 8000);
  CHECK(c->pools[0].memory_bytes == 16LL << 30);
  CHECK(c->pools[0].gpus == std::vector<std::string>{"0", "1"});
  auto s = ParseConfig("executor: slurm\nslurm: {partition: batch, qos: high}\n", "slussd.yaml");
  REQUIRE(s);
  REQUIRE(s->pools.size() == 1);
  CHECK(s->pools[0].executor == "slurm");
  CHECK(s->pools[0].partition == "batch");
  CHECK(s->pools[0].qos == "high");
  CHECK(s->pools[0].name.empty());  // this host's name, at start
  auto d = DefaultConfig();
  REQUIRE(d.pools.size() == 1);
  CHECK(d.pools[0].executor == "local");
}

TEST_CASE("pools: mixing it with the one-pool keys is refused, naming the key") {
  CHECK(Errors("executor: local\npools: [{name: a, executor: local}]\n") ==
        std::vector<std::string>{
            "slussd.yaml:1:11: executor: with pools:, each pool names its executor: remove "
            "executor: (or pools:, for one pool)"});
  CHECK(Errors("node: {cpus: 4}\npools: [{name: a, executor: local}]\n") ==
        std::vector<std::string>{
            "slussd.yaml:1:14: node.cpus: with pools:, set cpus on each pool (node: keeps only "
            "disk_reserve)"});
  CHECK(Errors("slurm: {partition: gpu}\npools: [{name: a, executor: slurm}]\n") ==
        std::vector<std::string>{
            "slussd.yaml:1:20: slurm.partition: with pools:, set partition on each slurm pool"});
  CHECK(Errors("slurm: {poll_interval: 2s}\npools: [{name: a, executor: local}]\n") ==
        std::vector<std::string>{
            "slussd.yaml:1:8: slurm: is set, but no pool has executor: slurm: add one, or remove "
            "slurm:"});
}

TEST_CASE("pools: duplicate names, unknown executors and bad entries are refused") {
  CHECK(Errors("pools: [{name: a, executor: local}, {name: a, executor: local}]\n") ==
        std::vector<std::string>{
            "slussd.yaml:1:44: pools[1].name: pool 'a' is already pools[0]: each pool needs its "
            "own name"});
  CHECK(Errors("pools: [{name: a, executor: kubernetes}]\n") ==
        std::vector<std::string>{
            "slussd.yaml:1:29: pools[0].executor: 'kubernetes' is not one of local, slurm"});
  CHECK(Errors("pools: [{name: a, executor: slurn}]\n") ==
        std::vector<std::string>{
            "slussd.yaml:1:29: pools[0].executor: 'slurn' is not one of local, slurm (did you "
            "mean 'slurm'?)"});
  CHECK(Errors("pools: [{name: a}]\n") ==
        std::vector<std::string>{"slussd.yaml:1:9: pools[0]: missing 'executor' (local or slurm)"});
  CHECK(Errors("pools: [{executor: local}]\n") ==
        std::vector<std::string>{"slussd.yaml:1:9: pools[0]: missing 'name'"});
  CHECK(Errors("pools: [{name: a, executor: local, gpus: [0, 1]}, {name: b, executor: local, gpus: [1]}]\n") ==
        std::vector<std::string>{
            "slussd.yaml:1:84: pools[1].gpus: GPU '1' is already in pool 'a': a GPU belongs to one "
            "local pool"});
  CHECK(Errors("pools: []\n") ==
        std::vector<std::string>{"slussd.yaml:1:8: pools: lists no pool: jobs could run nowhere"});
  auto e = Errors(R"(pools:
  - {name: "a/b", executor: local, partition: gpu, cpus: lots}
  - {name: s, executor: slurm, gpus: [0], projects: []}
  - {name: t, executor: local, projects: [x, x], memroy: 1G}
)");
  REQUIRE(e.size() == 6);
  CHECK(e[0].find("pools[0].name: 'a/b' is not a pool name") != std::string::npos);
  CHECK(e[1].find("pools[0].partition: is for pools with executor: slurm") != std::string::npos);
  CHECK(e[2].find("pools[0].cpus") != std::string::npos);
  CHECK(e[3].find("pools[1].projects: lists no project") != std::string::npos);
  CHECK(e[4].find("project 'x' is listed twice") != std::string::npos);
  CHECK(e[5].find("unknown key 'memroy' (did you mean 'memory'?)") != std::string::npos);
  // A Slurm pool's gpus count the GPUs sluss admits at once there.
  auto sg = ParseConfig("pools: [{name: s, executor: slurm, cpus: 4, memory: 8G, gpus: [0, 1]}]\n",
                        "slussd.yaml");
  REQUIRE(sg);
  CHECK(sg->pools[0].gpus == std::vector<std::string>{"0", "1"});
}

TEST_CASE("a Slurm pool's capacity from sinfo: its partition's nodes summed") {
  const char* text = "debug* 2 4 7900\nbig 1 64 515000\nbig 2 32+ 256000+\n";
  auto d = SinfoCapacity(text, "");
  REQUIRE(d);
  CHECK(d->milli_cpus == 8000);
  CHECK(d->memory_bytes == 2 * 7900LL << 20);
  auto b = SinfoCapacity(text, "big");
  REQUIRE(b);
  CHECK(b->milli_cpus == 128000);
  CHECK(b->memory_bytes == (515000LL + 512000LL) << 20);
  CHECK(SinfoCapacity(text, "gpu").error().message == "sinfo lists no partition 'gpu'");
  CHECK(SinfoCapacity("big 1 x 1\n", "big").error().message ==
        "sinfo printed 'big 1 x 1', not PARTITION NODES CPUS MEMORY");
}

TEST_CASE("audit.anchor_dir is read, unset, there is none") {
  auto c = ParseConfig("audit: {anchor_dir: /srv/sluss-anchor}\n", "slussd.yaml");
  REQUIRE(c);
  CHECK(c->audit.anchor_dir == "/srv/sluss-anchor");
  auto none = ParseConfig("", "slussd.yaml");
  REQUIRE(none);
  CHECK(none->audit.anchor_dir.empty());
  CHECK(!Errors("audit: {anchor_dir: \"\"}\n").empty());
}
