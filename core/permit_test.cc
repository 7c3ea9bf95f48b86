#include "core/permit.h"

#include <catch2/catch.hpp>

namespace sluss::core {
namespace {

TimePoint Day(const char* d) { return *ParseRfc3339(std::string(d) + "T00:00:00Z"); }

Permit P7() {
  Permit p;
  p.id = "P-7";
  p.project = "p1";
  p.datasets = {{"prescriptions", ""}, {"registry", "2026-06"}};
  p.persons = {"alice@example.org"};
  p.purpose = "study";
  p.valid_from = Day("2026-01-01");
  p.valid_until = Day("2026-10-01");
  return p;
}

TEST_CASE("a valid permit covering the dataset and naming the person is found") {
  auto id = FindPermit({P7()}, "p1", "prescriptions", "", "alice@example.org", Day("2026-05-01"));
  REQUIRE(id);
  CHECK(*id == "P-7");
}

TEST_CASE("refusals name the dataset, the project and the permit") {
  const std::vector<Permit> permits = {P7()};
  SECTION("expired") {
    auto r = FindPermit(permits, "p1", "prescriptions", "", "alice@example.org", Day("2026-11-01"));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kPermissionDenied);
    CHECK(r.error().message ==
          "dataset prescriptions is not in any valid permit of project p1 "
          "(permit P-7 expired 2026-10-01)");
  }
  SECTION("not yet valid") {
    auto r = FindPermit(permits, "p1", "prescriptions", "", "alice@example.org", Day("2025-11-01"));
    CHECK_THAT(r.error().message, Catch::Contains("permit P-7 is valid from 2026-01-01"));
  }
  SECTION("revoked") {
    auto revoked = permits;
    revoked[0].revoked_at = Day("2026-03-01");
    revoked[0].revoke_reason = "breach";
    auto r = FindPermit(revoked, "p1", "prescriptions", "", "alice@example.org", Day("2026-05-01"));
    CHECK_THAT(r.error().message, Catch::Contains("permit P-7 was revoked 2026-03-01: breach"));
  }
  SECTION("a dataset no permit names") {
    auto r = FindPermit(permits, "p1", "genomes", "", "alice@example.org", Day("2026-05-01"));
    CHECK(r.error().message == "dataset genomes is not in any valid permit of project p1");
  }
  SECTION("another project's permit does not count") {
    auto r = FindPermit(permits, "p2", "prescriptions", "", "alice@example.org", Day("2026-05-01"));
    CHECK_FALSE(r);
  }
  SECTION("a person the permit does not name") {
    auto r = FindPermit(permits, "p1", "prescriptions", "", "bob@example.org", Day("2026-05-01"));
    CHECK(r.error().message ==
          "bob@example.org is not a person named in permit P-7, which covers dataset "
          "prescriptions in project p1");
  }
  SECTION("a version the permit does not pin") {
    auto r = FindPermit(permits, "p1", "registry", "2026-09", "alice@example.org", Day("2026-05-01"));
    CHECK_THAT(r.error().message, Catch::Contains("permit P-7 covers only version 2026-06"));
  }
}

TEST_CASE("the newest ready version a permit allows is resolved, a pinned permit gives its own") {
  DatasetVersion a{.name = "registry", .version = "2026-06", .state = DatasetVersion::State::kReady,
                   .id = "sha256:a", .registered_at = Day("2026-06-02")};
  DatasetVersion b = a;
  b.version = "2026-09";
  b.id = "sha256:b";
  b.registered_at = Day("2026-09-02");
  DatasetVersion rx = a;
  rx.name = "prescriptions";
  DatasetVersion rx2 = rx;
  rx2.version = "2026-09";
  rx2.registered_at = Day("2026-09-02");
  rx2.state = DatasetVersion::State::kHashing;
  std::vector<DatasetVersion> all = {a, b, rx, rx2};
  auto pinned = ResolveDataset({P7()}, all, "p1", "registry", "alice@example.org", Day("2026-09-05"));
  REQUIRE(pinned);
  CHECK(pinned->version == "2026-06");
  auto newest = ResolveDataset({P7()}, all, "p1", "prescriptions", "alice@example.org",
                               Day("2026-09-05"));
  REQUIRE(newest);
  CHECK(newest->version == "2026-06");  // 2026-09 is still hashing
  CHECK_FALSE(ResolveDataset({P7()}, all, "p1", "prescriptions", "bob@x", Day("2026-09-05")));
}

TEST_CASE("a permit body: plain dates, name@version, fields named in errors") {
  auto p = PermitFromJson({{"id", "P-8"},
                           {"project", "p1"},
                           {"purpose", "study"},
                           {"datasets", {"prescriptions", "registry@2026-06"}},
                           {"persons", {"alice@example.org"}},
                           {"valid_from", "2026-01-01"},
                           {"valid_until", "2027-01-01T12:00:00Z"}});
  REQUIRE(p);
  CHECK(p->datasets[1] == PermitDataset{"registry", "2026-06"});
  CHECK(FormatRfc3339(p->valid_from) == "2026-01-01T00:00:00.000Z");
  auto bad = PermitFromJson({{"id", "P-8"}, {"project", "p1"}, {"purpose", "x"},
                             {"datasets", nlohmann::json::array()}, {"persons", {"a"}},
                             {"valid_from", "2026-01-01"}, {"valid_until", "2027-01-01"}});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().field == "datasets");
  auto backwards = PermitFromJson({{"id", "P-8"}, {"project", "p1"}, {"purpose", "x"},
                                   {"datasets", {"d"}}, {"persons", {"a"}},
                                   {"valid_from", "2027-01-01"}, {"valid_until", "2026-01-01"}});
  CHECK(backwards.error().field == "valid_until");
}

}  // namespace
}  // namespace sluss::core
