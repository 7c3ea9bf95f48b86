#include "core/quota.h"

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

using namespace sluss::core;
using nlohmann::json;
using namespace std::chrono_literals;

TEST_CASE("the quota of the design round-trips through JSON") {
  json in = json::parse(R"({"max": {"gpus": 8, "cpus": 128, "memory": "1T"},
    "per_user": {"max_running_jobs": 5, "max_gpus": 4},
    "per_job": {"max_gpus": 4, "max_time": "24h", "max_memory": "256G", "max_disk": "100G"},
    "max_running_jobs": 20, "max_queued_jobs": 500,
    "budget": {"gpu_hours": 500, "period": "month"},
    "fairshare_weight": 1.0})");
  auto q = QuotaFromJson(in);
  REQUIRE(q);
  CHECK(q->max.gpus == 8);
  CHECK(q->max.milli_cpus == 128000);
  CHECK(q->max.memory_bytes == 1LL << 40);
  CHECK(q->per_job.max_time == 24h);
  CHECK(q->per_job.max_disk_bytes == 100LL << 30);
  CHECK(q->budget->gpu_hours == 500);
  auto again = QuotaFromJson(QuotaToJson(*q));
  REQUIRE(again);
  CHECK(*again == *q);
  CHECK(QuotaToJson(*q)["per_job"]["max_time"] == "1d");
}

TEST_CASE("an empty quota is unlimited") {
  auto q = QuotaFromJson(json::object());
  REQUIRE(q);
  CHECK(*q == Quota{});
}

TEST_CASE("bad quotas name the field") {
  auto bad = [](const char* text) {
    auto q = QuotaFromJson(json::parse(text));
    REQUIRE(!q);
    return q.error().field + ": " + q.error().message;
  };
  CHECK(bad(R"({"max": {"gpu": 1}})") ==
        "max.gpu: unknown key 'gpu' (did you mean 'gpus'?)");
  CHECK(bad(R"({"max": {"memory": "1Q"}})") ==
        "max.memory: memory size '1Q': unknown unit 'Q'; use K, M, G, T or P "
        "(powers of 1024), e.g. 16G or 512M");
  CHECK(bad(R"({"per_job": {"max_time": 5}})") ==
        "per_job.max_time: duration '5' has no unit; write e.g. 5m for minutes "
        "or 5h for hours");
  CHECK(bad(R"({"max_running_jobs": -1})") ==
        "max_running_jobs: expected a whole number from 0, or null for no limit");
  CHECK(bad(R"({"budget": {"gpu_hours": 5, "period": "year"}})") ==
        "budget.period: expected \"day\", \"week\" or \"month\"");
  CHECK(bad(R"({"fairshare_weight": 0})") ==
        "fairshare_weight: expected a number above 0");
  CHECK(bad(R"([1])") == ": expected an object");
}
