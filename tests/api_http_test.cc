// The API over real HTTP on loopback: keep-alive, limits, deadlines, load.

#include <sys/resource.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include "api/api.h"
#include "auth/tokens.h"
#include "api/server.h"
#include "store/store.h"
#include "tests/support/http_client.h"
#include "tests/support/manual_clock.h"
#include "tests/support/temp_dir.h"

using namespace sluss;
using namespace std::chrono_literals;
using testing::Connect;
using testing::Get;
using testing::ReadResponse;
using testing::SendAll;

namespace {

struct Server {
  testing::TempDir dir;
  core::SystemClock clock;
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<api::Api> api;
  std::unique_ptr<api::HttpServer> http;
  std::string admin;

  explicit Server(api::ServerOptions o = {}, api::ApiOptions a = {}) {
    store = std::move(*store::SqliteStore::Open(dir / "state.db"));
    api = std::make_unique<api::Api>(*store, clock, std::move(a));
    admin = auth::IssueToken(*store, clock.Now(), "admin@x", core::Role::kAdmin, "", std::nullopt)->second;
    o.port = 0;
    http = std::make_unique<api::HttpServer>(*api, o);
    REQUIRE(http->Start());
  }
  int port() const { return http->port(); }
};

}  // namespace

TEST_CASE("http: requests on one kept-alive connection, with and without a token") {
  Server s;
  int fd = Connect(s.port());
  REQUIRE(fd >= 0);
  REQUIRE(SendAll(fd, Get("/healthz")));
  auto a = ReadResponse(fd);
  CHECK(a.status == 200);
  CHECK(nlohmann::json::parse(a.body)["status"] == "ok");
  REQUIRE(SendAll(fd, Get("/v1/whoami", s.admin)));
  auto b = ReadResponse(fd);
  CHECK(b.status == 200);
  CHECK(nlohmann::json::parse(b.body)["user"] == "admin@x");
  REQUIRE(SendAll(fd, Get("/v1/whoami")));
  auto c = ReadResponse(fd);
  CHECK(c.status == 401);
  CHECK(c.headers["www-authenticate"] == "Bearer realm=\"sluss\"");
  CHECK(c.headers["content-type"] == "application/json");
  close(fd);
}

TEST_CASE("http: a body over the limit is 413, headers over the limit 431") {
  Server s;
  int fd = Connect(s.port());
  REQUIRE(SendAll(fd, "POST /v1/projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Authorization: Bearer " + s.admin + "\r\nContent-Length: 2000000\r\n\r\n{"));
  auto big = ReadResponse(fd);
  CHECK(big.status == 413);
  CHECK(nlohmann::json::parse(big.body)["error"]["code"] == "payload_too_large");
  close(fd);
  fd = Connect(s.port());
  REQUIRE(SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: " + std::string(20000, 'a') + "\r\n\r\n"));
  auto huge = ReadResponse(fd);
  CHECK(huge.status == 431);
  close(fd);
}

TEST_CASE("http: malformed requests get 400, not a crash") {
  Server s;
  int fd = Connect(s.port());
  REQUIRE(SendAll(fd, "GET /v1/runs%zz HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(ReadResponse(fd).status == 400);
  close(fd);
  fd = Connect(s.port());
  REQUIRE(SendAll(fd, "THIS IS NOT HTTP\r\n\r\n"));
  auto r = ReadResponse(fd, 3s);
  CHECK((r.status == 400 || r.status == 0));
  close(fd);
  // The server still serves.
  fd = Connect(s.port());
  REQUIRE(SendAll(fd, Get("/healthz")));
  CHECK(ReadResponse(fd).status == 200);
  close(fd);
}

TEST_CASE("http: a client that sends one byte at a time is cut at the deadline while others are served") {
  api::ServerOptions o;
  o.read_timeout = 1000ms;
  Server s(o);
  int slow = Connect(s.port());
  REQUIRE(slow >= 0);
  std::string req = Get("/healthz");
  std::atomic<bool> cut{false};
  std::thread trickle([&] {
    for (char ch : req) {
      if (send(slow, &ch, 1, MSG_NOSIGNAL) != 1) {
        cut = true;
        return;
      }
      std::this_thread::sleep_for(250ms);
    }
  });
  // Meanwhile, others are answered.
  for (int i = 0; i < 5; ++i) {
    int fd = Connect(s.port());
    REQUIRE(SendAll(fd, Get("/healthz")));
    CHECK(ReadResponse(fd).status == 200);
    close(fd);
  }
  CHECK(testing::WaitClosed(slow, 10s));
  trickle.join();
  close(slow);
}

TEST_CASE("http: 1,000 concurrent connections are all answered") {
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);
  REQUIRE(nofile.rlim_cur >= 2100);
  api::ApiOptions a;
  a.rate_burst = 5000;  // this test is about connections, not the rate limit
  Server s({}, a);
  std::vector<int> fds;
  for (int i = 0; i < 1000; ++i) {
    int fd = Connect(s.port());
    REQUIRE(fd >= 0);
    fds.push_back(fd);
  }
  for (int fd : fds) REQUIRE(SendAll(fd, Get("/v1/whoami", s.admin)));
  int ok = 0;
  for (int fd : fds) {
    if (ReadResponse(fd, 30s).status == 200) ++ok;
    close(fd);
  }
  CHECK(ok == 1000);
}

TEST_CASE("http: 1,000 followed logs hung up at random moments, and the server keeps serving") {
  // A pending job whose log grows now and then, and a log reader slow enough
  // that hang-ups land while a worker is reading (where slussd used to abort
  // with std::bad_function_call).
  testing::TempDir logs;
  const std::string log = logs / "stdout";
  testing::WriteFile(log, "started\n");
  api::ApiOptions a;
  a.rate_burst = 100000;  // this test is about hang-ups, not the rate limit
  a.rate_per_second = 100000;
  a.log_files = [log](core::JobId, int, const std::string&) {
    thread_local std::minstd_rand slow(std::random_device{}());
    std::this_thread::sleep_for(std::chrono::microseconds(slow() % 3000));
    return std::vector<std::string>{log};
  };
  api::ServerOptions o;
  o.workers = 4;
  Server s(o, std::move(a));
  REQUIRE(s.store->CreateProject({"p1", "", "", {}, {}, s.clock.Now()}));
  core::NewRun nr;
  nr.project = "p1";
  nr.commit = std::string(40, 'c');
  nr.submitted_by = "admin@x";
  nr.jobs = {{"extract", core::StatusCode::kWaitingOnResources, "waiting", "{}", "k1", {}}};
  auto run = s.store->CreateRun(nr, s.clock.Now());
  REQUIRE(run);
  const auto jobs = *s.store->ListJobs(run->id);
  REQUIRE(jobs.size() == 1);
  const std::string target = "/v1/jobs/" + std::to_string(jobs[0].id.value) + "/logs?follow=1";

  std::atomic<bool> writing{true};
  std::thread writer([&] {
    std::ofstream out(log, std::ios::app);
    for (int i = 0; writing.load() && i < 100000; ++i) {
      out << "line " << i << "\n" << std::flush;
      std::this_thread::sleep_for(std::chrono::milliseconds(7));
    }
  });
  std::atomic<int> started{0}, healthy{0}, checks{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      std::minstd_rand rnd(static_cast<unsigned>(t) * 7919u + 1u);
      for (int i = 0; i < 125; ++i) {
        int fd = Connect(s.port());
        if (fd < 0) continue;
        if (rnd() % 4 == 0) {  // some hang up with a reset rather than a FIN
          linger l{1, 0};
          setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
        SendAll(fd, Get(target, s.admin));
        switch (rnd() % 4) {
          case 0:  // at once, maybe before the answer
            break;
          case 1:  // right after the header
            if (ReadResponse(fd, 10s).status == 200) ++started;
            break;
          default:  // a while into the stream, while chunks and polls go on
            if (ReadResponse(fd, 10s).status == 200) ++started;
            std::this_thread::sleep_for(std::chrono::milliseconds(rnd() % 600));
        }
        close(fd);
        if (i % 25 == 24) {
          int h = Connect(s.port());
          ++checks;
          if (h >= 0 && SendAll(h, Get("/healthz")) && ReadResponse(h, 30s).status == 200) ++healthy;
          if (h >= 0) close(h);
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  writing = false;
  writer.join();
  CHECK(started.load() > 500);
  CHECK(healthy.load() == checks.load());
  // Still serving, streams included.
  int fd = Connect(s.port());
  REQUIRE(SendAll(fd, Get(target, s.admin)));
  auto r = ReadResponse(fd, 30s);
  CHECK(r.status == 200);
  CHECK(r.headers["transfer-encoding"] == "chunked");
  close(fd);
  fd = Connect(s.port());
  REQUIRE(SendAll(fd, Get("/healthz")));
  CHECK(ReadResponse(fd, 30s).status == 200);
  close(fd);
}

namespace {

// A GitService whose remote never answers until the test lets it.
class StuckGit final : public core::GitService {
 public:
  ~StuckGit() override { Release(); }
  core::Result<std::string> CreateHosted(std::string_view) override { return std::string("/x"); }
  core::Result<std::vector<core::SyncOutcome>> Sync(std::string_view project) override {
    if (project == "stuck") Wait();
    return std::vector<core::SyncOutcome>{{"refs/heads/main", std::string(40, 'a'), core::RunId{7}, true, false, "run 7"}};
  }
  core::Result<core::SyncOutcome> StartRun(const core::RunRequest&) override {
    Wait();
    return core::SyncOutcome{"refs/heads/main", std::string(40, 'a'), core::RunId{8}, true, false, "run 8"};
  }
  core::Result<std::vector<std::string>> ExportWorkspace(std::string_view, std::string_view,
                                                         const std::string&) override {
    return std::vector<std::string>{};
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return released_; });
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

std::string Post(const std::string& path, const std::string& token, const std::string& body) {
  return "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + token +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("http: a remote that never answers stops neither the API nor other requests") {
  StuckGit git;
  api::ApiOptions a;
  a.git = &git;
  api::ServerOptions o;
  o.workers = 4;
  Server s(o, std::move(a));
  core::Project p{"stuck", "", "https://git.example.org/stuck.git", {}, {}, s.clock.Now()};
  REQUIRE(s.store->CreateProject(p));
  // Twice as many fetching requests as there are workers: each is answered
  // at once, 202, with the request to follow.
  std::vector<std::string> locations;
  for (int i = 0; i < 8; ++i) {
    int fd = Connect(s.port());
    REQUIRE(fd >= 0);
    REQUIRE(SendAll(fd, i % 2 ? Post("/v1/hooks/git/stuck", s.admin, "")
                              : Post("/v1/runs", s.admin, R"({"project": "stuck", "ref": "main"})")));
    auto r = ReadResponse(fd, 30s);
    CHECK(r.status == 202);
    CHECK(r.headers["location"].starts_with("/v1/git/requests/"));
    locations.push_back(r.headers["location"]);
    close(fd);
  }
  for (int i = 0; i < 5; ++i) {
    int fd = Connect(s.port());
    REQUIRE(SendAll(fd, Get("/healthz")));
    CHECK(ReadResponse(fd, 30s).status == 200);
    close(fd);
  }
  // One project's requests run one at a time and fill at most their share
  // of the queue: more are refused with Retry-After...
  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    int fd = Connect(s.port());
    REQUIRE(SendAll(fd, Post("/v1/runs", s.admin, R"({"project": "stuck"})")));
    auto r = ReadResponse(fd, 30s);
    close(fd);
    CHECK((r.status == 202 || r.status == 503));
    if (r.status == 503) {
      ++refused;
      CHECK(r.headers["retry-after"] == "60");
    }
  }
  CHECK(refused > 0);
  // ... while another project's sync is accepted and runs.
  core::Project other{"other", "", "https://git.example.org/other.git", {}, {}, s.clock.Now()};
  REQUIRE(s.store->CreateProject(other));
  int fd = Connect(s.port());
  REQUIRE(SendAll(fd, Post("/v1/hooks/git/other", s.admin, "")));
  auto queued = ReadResponse(fd, 30s);
  close(fd);
  REQUIRE(queued.status == 202);
  std::string other_status;
  for (int i = 0; i < 300 && other_status != "done"; ++i) {
    fd = Connect(s.port());
    REQUIRE(SendAll(fd, Get(queued.headers["location"], s.admin)));
    auto r = ReadResponse(fd, 30s);
    close(fd);
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    other_status = j.is_object() ? j.value("status", "") : "";
    if (other_status != "done") std::this_thread::sleep_for(100ms);
  }
  CHECK(other_status == "done");
  fd = Connect(s.port());
  REQUIRE(SendAll(fd, Get(locations[0], s.admin)));
  auto pending = ReadResponse(fd, 30s);
  close(fd);
  REQUIRE(pending.status == 200);
  CHECK(nlohmann::json::parse(pending.body)["status"] != "done");
  // The remote answers: the requests end, and say what they made.
  git.Release();
  std::string status;
  nlohmann::json last;
  for (int i = 0; i < 300 && status != "done"; ++i) {
    fd = Connect(s.port());
    REQUIRE(SendAll(fd, Get(locations[0], s.admin)));
    auto r = ReadResponse(fd, 30s);
    close(fd);
    last = nlohmann::json::parse(r.body, nullptr, false);
    status = last.is_object() ? last.value("status", "") : "";
    if (status != "done") std::this_thread::sleep_for(100ms);
  }
  CHECK(status == "done");
  CHECK(last["kind"] == "run");
  CHECK(last["result"]["run_id"] == 8);
}

TEST_CASE("http: request bodies in flight are capped, beyond, 503 with Retry-After, unread") {
  api::ServerOptions o;
  o.max_body_bytes = 3 << 20;
  o.read_timeout = 60s;  // the stalled ones must still be there at the end
  Server s(o);
  const std::string head = "POST /v1/projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Authorization: Bearer " + s.admin + "\r\nContent-Length: 1000000\r\n\r\n{\"name\"";
  std::vector<int> fds;
  for (int i = 0; i < 5; ++i) {
    int fd = Connect(s.port());
    REQUIRE(fd >= 0);
    REQUIRE(SendAll(fd, head));  // and then stall, the body unsent
    fds.push_back(fd);
  }
  // Three bodies of 1 MB fit in 3 MiB; the other two are refused at once.
  std::vector<bool> answered(fds.size(), false);
  int refused = 0;
  for (int round = 0; round < 300 && refused < 2; ++round) {
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (answered[i]) continue;
      pollfd p{fds[i], POLLIN, 0};
      if (poll(&p, 1, 0) <= 0) continue;
      auto r = ReadResponse(fds[i], 30s);
      answered[i] = true;
      CHECK(r.status == 503);
      CHECK(r.headers["retry-after"] == "1");
      ++refused;
    }
    if (refused < 2) std::this_thread::sleep_for(100ms);
  }
  CHECK(refused == 2);
  int fd = Connect(s.port());
  REQUIRE(SendAll(fd, Get("/healthz")));
  CHECK(ReadResponse(fd, 30s).status == 200);
  close(fd);
  for (int f : fds) close(f);
  // Their room comes back once they are gone.
  int status = 503;
  for (int i = 0; i < 100 && status == 503; ++i) {
    fd = Connect(s.port());
    REQUIRE(SendAll(fd, "POST /v1/projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Authorization: Bearer " + s.admin + "\r\nContent-Length: 2000000\r\n\r\n"));
    SendAll(fd, std::string(2000000, ' '));
    status = ReadResponse(fd, 30s).status;
    close(fd);
    if (status == 503) std::this_thread::sleep_for(100ms);
  }
  CHECK(status == 413);  // over body_limit, but not refused for room
}

TEST_CASE("http: connections over the cap are closed at once, and the server says so") {
  std::mutex mu;
  std::vector<std::string> warnings;
  api::ServerOptions o;
  o.max_connections = 20;
  o.on_warning = [&](const std::string& m) {
    std::lock_guard lock(mu);
    warnings.push_back(m);
  };
  api::ApiOptions a;
  a.rate_burst = 1000;
  Server s(o, a);
  std::vector<int> fds;
  for (int i = 0; i < 30; ++i) {
    int fd = Connect(s.port());
    REQUIRE(fd >= 0);
    fds.push_back(fd);
  }
  int ok = 0, closed = 0;
  for (int fd : fds) {
    if (SendAll(fd, Get("/healthz"))) {
      int st = ReadResponse(fd, 30s).status;
      ok += st == 200;
      closed += st == 0;
    } else {
      ++closed;
    }
  }
  CHECK(ok == 20);
  CHECK(closed == 10);
  {
    std::lock_guard lock(mu);
    REQUIRE(warnings.size() == 1);  // once a minute, not once a connection
    CHECK(warnings[0].find("max_connections") != std::string::npos);
  }
  for (int fd : fds) close(fd);
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    int fd = Connect(s.port());
    if (fd >= 0 && SendAll(fd, Get("/healthz"))) status = ReadResponse(fd, 30s).status;
    if (fd >= 0) close(fd);
    if (status != 200) std::this_thread::sleep_for(100ms);
  }
  CHECK(status == 200);
}

TEST_CASE("http: on a kept-alive connection too, a request must arrive whole within the read timeout") {
  api::ServerOptions o;
  o.read_timeout = 1000ms;
  o.idle_timeout = 60'000ms;
  Server s(o);
  int fd = Connect(s.port());
  REQUIRE(SendAll(fd, Get("/healthz")));
  REQUIRE(ReadResponse(fd).status == 200);
  // The second request trickles in, a byte every 250 ms: cut at the read
  // timeout from its first byte, not at the idle timeout.
  std::string req = Get("/healthz");
  std::atomic<bool> cut{false};
  std::thread trickle([&] {
    for (char ch : req) {
      if (send(fd, &ch, 1, MSG_NOSIGNAL) != 1) {
        cut = true;
        return;
      }
      std::this_thread::sleep_for(250ms);
    }
  });
  CHECK(testing::WaitClosed(fd, 20s));
  trickle.join();
  close(fd);
  // A quiet kept-alive connection is not cut by the read timeout.
  fd = Connect(s.port());
  REQUIRE(SendAll(fd, Get("/healthz")));
  REQUIRE(ReadResponse(fd).status == 200);
  std::this_thread::sleep_for(1500ms);
  REQUIRE(SendAll(fd, Get("/healthz")));
  CHECK(ReadResponse(fd, 30s).status == 200);
  close(fd);
}

TEST_CASE("http: Stop closes the listener and returns") {
  Server s;
  int port = s.port();
  s.http->Stop();
  CHECK(Connect(port) < 0);
}
