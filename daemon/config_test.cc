#include "daemon/config.h"

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
  CHECK(c->node_gpus == std::vector<int>{0, 1, 2, 3});
  CHECK(c->images.at("python-3.11").rootfs == "/srv/images/python-3.11");
  CHECK(c->DatabasePath() == "/var/lib/sluss/sluss.db");
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
            "slussd.yaml:1:27: node.gpus: expected a list of GPU indices such as [0, 1], got a single value"});
  CHECK(Errors("images:\n  py: {root: /x}\n") ==
        std::vector<std::string>{"slussd.yaml:2:7: images.py: missing 'rootfs' (the image's root directory), or 'host: true'",
                                 "slussd.yaml:2:8: images.py: unknown key 'root' (did you mean 'rootfs'?)"});
  CHECK(Errors("tls: {cert: /c}\n") ==
        std::vector<std::string>{"slussd.yaml:1:6: tls: set both 'cert' and 'key', or neither"});
  CHECK(Errors("log_level: loud\nexecutor: slurmm\n") ==
        std::vector<std::string>{"slussd.yaml:1:12: log_level: 'loud' is not one of debug, info, warn, error",
                                 "slussd.yaml:2:11: executor: 'slurmm' is not one of local, slurm (did you mean 'slurm'?)"});
}
