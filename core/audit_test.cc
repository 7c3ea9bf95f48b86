#include "core/audit.h"

#include <catch2/catch.hpp>

namespace sluss::core {
namespace {

std::vector<AuditRecord> Log(int n) {
  std::vector<AuditRecord> out;
  std::string prev(kAuditGenesis);
  for (int i = 1; i <= n; ++i) {
    AuditEvent e{"alice", "job.state", "job/" + std::to_string(i), {{"to", "succeeded"}}};
    out.push_back(SealAuditRecord(i, FromUnixMillis(1'790'000'000'000 + i), e, prev));
    prev = out.back().hash;
  }
  return out;
}

std::vector<Sha256Digest> Leaves(const std::vector<AuditRecord>& log) {
  std::vector<Sha256Digest> out;
  for (const auto& r : log) out.push_back(MerkleLeafHash(*DigestFromHex(r.hash)));
  return out;
}

AuditCheckpoint Sign(const std::vector<AuditRecord>& log, std::size_t size,
                     const Ed25519KeyPair& key) {
  AuditCheckpoint c;
  c.tree_size = static_cast<std::int64_t>(size);
  auto leaves = Leaves(log);
  c.root = ToHex(MerkleRoot(std::span(leaves).first(size)));
  c.time = FromUnixMillis(1'790'000'100'000);
  c.key_id = KeyId(key.public_pem);
  c.signature = *Ed25519Sign(key.private_pem, CheckpointMessage(c));
  return c;
}

AuditVerifyReport Verify(const std::vector<AuditRecord>& log,
                         const std::vector<AuditCheckpoint>& cps, const std::string& pub) {
  AuditVerifier v;
  for (const auto& r : log) v.Add(r);
  return v.Finish(cps, pub);
}

TEST_CASE("RFC 6962 tree: the empty root and the one-leaf root") {
  CHECK(ToHex(MerkleRoot({})) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256Digest leaf = MerkleLeafHash(Sha256Of("x"));
  std::vector<Sha256Digest> one = {leaf};
  CHECK(MerkleRoot(one) == leaf);
}

TEST_CASE("every leaf of trees of 1 to 40 leaves has an inclusion proof that verifies") {
  auto log = Log(40);
  auto leaves = Leaves(log);
  for (std::size_t n = 1; n <= leaves.size(); ++n) {
    auto tree = std::span(leaves).first(n);
    Sha256Digest root = MerkleRoot(tree);
    for (std::size_t i = 0; i < n; ++i) {
      auto proof = InclusionProof(tree, i);
      INFO("n=" << n << " i=" << i);
      CHECK(VerifyInclusion(tree[i], i, n, proof, root));
      // The same proof does not hold for another leaf or another root.
      if (n > 1) CHECK_FALSE(VerifyInclusion(tree[(i + 1) % n], i, n, proof, root));
    }
  }
}

TEST_CASE("a clean log with checkpoints verifies, the tail after the last is reported") {
  auto key = *GenerateEd25519();
  auto log = Log(25);
  auto report = Verify(log, {Sign(log, 10, key), Sign(log, 20, key)}, key.public_pem);
  CHECK(report.ok);
  CHECK(report.records == 25);
  CHECK(report.checkpoints == 2);
  CHECK(report.unsigned_records == 5);
}

TEST_CASE("an edited, deleted or reordered record is named") {
  auto key = *GenerateEd25519();
  auto log = Log(12);
  std::vector<AuditCheckpoint> cps = {Sign(log, 12, key)};

  SECTION("edited subject") {
    log[4].subject = "job/999";
    auto r = Verify(log, cps, key.public_pem);
    CHECK_FALSE(r.ok);
    CHECK(r.bad_seq == 5);
    CHECK_THAT(r.problem, Catch::Contains("record 5") && Catch::Contains("altered"));
  }
  SECTION("edited payload") {
    log[6].payload = R"({"to":"failed"})";
    auto r = Verify(log, cps, key.public_pem);
    CHECK(r.bad_seq == 7);
    CHECK_THAT(r.problem, Catch::Contains("payload"));
  }
  SECTION("deleted") {
    log.erase(log.begin() + 3);
    auto r = Verify(log, cps, key.public_pem);
    CHECK(r.bad_seq == 4);
    CHECK_THAT(r.problem, Catch::Contains("record 4 is missing"));
  }
  SECTION("reordered") {
    std::swap(log[5], log[6]);
    auto r = Verify(log, cps, key.public_pem);
    CHECK_FALSE(r.ok);
    CHECK(r.bad_seq == 6);  // record 7 now comes right after record 5
  }
  SECTION("rewritten from record 3 on, chain recomputed: the checkpoint catches it") {
    std::string prev = log[1].hash;
    for (std::size_t i = 2; i < log.size(); ++i) {
      AuditEvent e{"mallory", log[i].action, log[i].subject, {}};
      log[i] = SealAuditRecord(log[i].seq, log[i].time, e, prev);
      prev = log[i].hash;
    }
    auto r = Verify(log, cps, key.public_pem);
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.problem, Catch::Contains("records 1 to 12") && Catch::Contains("checkpoint"));
  }
  SECTION("truncated after a checkpoint") {
    log.resize(9);
    auto r = Verify(log, cps, key.public_pem);
    CHECK(r.bad_seq == 10);
    CHECK_THAT(r.problem, Catch::Contains("removed"));
  }
  SECTION("a checkpoint signed by another key") {
    auto other = *GenerateEd25519();
    auto r = Verify(log, {Sign(log, 12, other)}, key.public_pem);
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.problem, Catch::Contains("signature"));
  }
}

TEST_CASE("a purged payload keeps the chain and the tree verifiable") {
  auto key = *GenerateEd25519();
  auto log = Log(6);
  auto cps = std::vector{Sign(log, 6, key)};
  log[0].payload.reset();
  log[1].payload.reset();
  auto r = Verify(log, cps, key.public_pem);
  CHECK(r.ok);
  CHECK(r.purged_payloads == 2);
}

TEST_CASE("records and checkpoints survive a JSON round trip byte for byte") {
  auto key = *GenerateEd25519();
  auto log = Log(3);
  auto c = Sign(log, 3, key);
  AuditVerifier v;
  for (const auto& r : log) v.Add(*AuditRecordFromJson(ToJson(r)));
  auto report = v.Finish({*AuditCheckpointFromJson(ToJson(c))}, key.public_pem);
  CHECK(report.ok);
}

TEST_CASE("HMAC-SHA-256 matches RFC 4231 test case 2") {
  CHECK(HmacSha256Hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(ConstantTimeEquals("abc", "abc"));
  CHECK_FALSE(ConstantTimeEquals("abc", "abd"));
  CHECK_FALSE(ConstantTimeEquals("abc", "abcd"));
}

TEST_CASE("Ed25519: sign, verify, refuse a changed message") {
  auto key = *GenerateEd25519();
  CHECK(*Ed25519PublicOf(key.private_pem) == key.public_pem);
  auto sig = *Ed25519Sign(key.private_pem, "hello");
  CHECK(*Ed25519Verify(key.public_pem, "hello", sig));
  CHECK_FALSE(*Ed25519Verify(key.public_pem, "hellO", sig));
  CHECK_FALSE(Ed25519Verify("not a key", "hello", sig).has_value());
}

}  // namespace
}  // namespace sluss::core
