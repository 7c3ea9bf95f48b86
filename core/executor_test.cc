#include "core/executor.h"

#include <catch2/catch.hpp>

using namespace sluss::core;

TEST_CASE("an attempt's key names that job's attempt and no other's") {
  Job a;
  a.id = JobId{7};
  a.run_id = RunId{3};
  a.action = "extract";
  a.created_at = FromUnixMillis(1'800'000'000'000);
  const std::string key = AttemptKey(a, 1);
  CHECK(key.size() == 16);
  CHECK(key == AttemptKey(a, 1));  // anyone with the row computes the same
  CHECK(key != AttemptKey(a, 2));
  // The same id after a restored backup: another job, made at another time.
  Job b = a;
  b.created_at = a.created_at + std::chrono::milliseconds(1);
  CHECK(AttemptKey(b, 1) != key);
  Job c = a;
  c.action = "model";
  CHECK(AttemptKey(c, 1) != key);
}
