#include "core/audit.h"

#include <algorithm>
#include <bit>

#include "core/strings.h"

namespace sluss::core {

using nlohmann::json;

std::string AuditRecordHash(const AuditRecord& r) {
  // An array, so no field can bleed into the next; dump() escapes every
  // string, so the encoding is unambiguous.
  json fields = json::array({"sluss-audit-v1", r.seq, ToUnixMillis(r.time), r.actor, r.action,
                             r.subject, r.payload_hash, r.prev_hash});
  return Sha256Hex(fields.dump());
}

AuditRecord SealAuditRecord(std::int64_t seq, TimePoint time, const AuditEvent& event,
                            std::string_view prev_hash) {
  AuditRecord r;
  r.seq = seq;
  r.time = FromUnixMillis(ToUnixMillis(time));  // stored to the millisecond
  r.actor = event.actor;
  r.action = event.action;
  r.subject = event.subject;
  r.payload = event.payload.is_null() ? std::string("{}") : event.payload.dump();
  r.payload_hash = Sha256Hex(*r.payload);
  r.prev_hash = std::string(prev_hash);
  r.hash = AuditRecordHash(r);
  return r;
}

Sha256Digest MerkleLeafHash(const Sha256Digest& record_hash) {
  Sha256 h;
  const unsigned char zero = 0;
  h.Update(&zero, 1);
  h.Update(record_hash.data(), record_hash.size());
  return h.Final();
}

namespace {

Sha256Digest Node(const Sha256Digest& left, const Sha256Digest& right) {
  Sha256 h;
  const unsigned char one = 1;
  h.Update(&one, 1);
  h.Update(left.data(), left.size());
  h.Update(right.data(), right.size());
  return h.Final();
}

// The largest power of two smaller than n (n >= 2).
std::size_t Split(std::size_t n) { return std::bit_floor(n - 1); }

}  // namespace

Sha256Digest MerkleRoot(std::span<const Sha256Digest> leaves) {
  if (leaves.empty()) return Sha256Of("");
  // Bottom up, an odd node carried up unchanged: the same tree as RFC 6962's
  // split at the largest power of two.
  std::vector<Sha256Digest> level(leaves.begin(), leaves.end());
  while (level.size() > 1) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < level.size(); i += 2)
      level[out++] = i + 1 < level.size() ? Node(level[i], level[i + 1]) : level[i];
    level.resize(out);
  }
  return level[0];
}

std::vector<Sha256Digest> InclusionProof(std::span<const Sha256Digest> leaves, std::size_t index) {
  std::vector<Sha256Digest> path;
  // PATH(m, D[n]) from RFC 6962 2.1.1, iteratively from the top; the
  // siblings come out top first, the proof lists them bottom first.
  while (leaves.size() > 1) {
    std::size_t k = Split(leaves.size());
    if (index < k) {
      path.push_back(MerkleRoot(leaves.subspan(k)));
      leaves = leaves.first(k);
    } else {
      path.push_back(MerkleRoot(leaves.first(k)));
      leaves = leaves.subspan(k);
      index -= k;
    }
  }
  std::reverse(path.begin(), path.end());
  return path;
}

bool VerifyInclusion(const Sha256Digest& leaf_hash, std::uint64_t index, std::uint64_t tree_size,
                     std::span<const Sha256Digest> proof, const Sha256Digest& root) {
  if (index >= tree_size) return false;
  std::uint64_t fn = index, sn = tree_size - 1;
  Sha256Digest r = leaf_hash;
  for (const auto& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = Node(p, r);
      if (!(fn & 1)) {
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = Node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

std::string CheckpointMessage(const AuditCheckpoint& c) {
  return StrCat("sluss audit checkpoint v1\n", c.tree_size, "\n", c.root, "\n",
                ToUnixMillis(c.time), "\n", c.key_id, "\n");
}

void AuditVerifier::Fail(std::int64_t seq, std::string problem) {
  if (!report_.ok) return;
  report_.ok = false;
  report_.bad_seq = seq;
  report_.problem = std::move(problem);
}

void AuditVerifier::Add(const AuditRecord& r) {
  ++report_.records;
  if (r.seq != expected_) {
    if (r.seq > expected_)
      Fail(expected_, StrCat("record ", expected_, " is missing: record ", r.seq,
                             " follows record ", expected_ - 1));
    else
      Fail(r.seq, StrCat("record ", r.seq, " appears again after record ", expected_ - 1,
                         ": the log was reordered"));
  }
  if (r.prev_hash != last_hash_)
    Fail(r.seq, StrCat("record ", r.seq, " does not chain to the record before it (its prev_hash ",
                       r.prev_hash.substr(0, 12), " is not ", last_hash_.substr(0, 12), ")"));
  if (AuditRecordHash(r) != r.hash)
    Fail(r.seq, StrCat("record ", r.seq, " (", r.action, " ", r.subject,
                       ") was altered: its hash does not match its contents"));
  if (r.payload) {
    if (Sha256Hex(*r.payload) != r.payload_hash)
      Fail(r.seq, StrCat("record ", r.seq, " (", r.action, " ", r.subject,
                         ") was altered: its payload does not match its payload_hash"));
  } else {
    ++report_.purged_payloads;
  }
  auto digest = DigestFromHex(r.hash);
  leaves_.push_back(MerkleLeafHash(digest ? *digest : Sha256Digest{}));
  last_hash_ = r.hash;
  expected_ = std::max(expected_, r.seq) + 1;
}

AuditVerifyReport AuditVerifier::Finish(std::vector<AuditCheckpoint> checkpoints,
                                        std::string_view public_pem) {
  std::sort(checkpoints.begin(), checkpoints.end(),
            [](const auto& a, const auto& b) { return a.tree_size < b.tree_size; });
  std::int64_t good = 0;  // records covered by the last good checkpoint
  const std::string key_id = public_pem.empty() ? std::string() : KeyId(public_pem);
  for (const auto& c : checkpoints) {
    if (!public_pem.empty()) {
      auto valid = Ed25519Verify(public_pem, CheckpointMessage(c), c.signature);
      if (!valid) {
        Fail(good + 1, StrCat("cannot check signatures: ", valid.error().message));
        break;
      }
      if (!*valid) {
        Fail(good + 1, StrCat("the checkpoint of ", c.tree_size, " records (",
                              FormatRfc3339(c.time), ") has a signature that is not valid for key ",
                              key_id, c.key_id != key_id ? StrCat(" (it names key ", c.key_id, ")")
                                                         : std::string()));
        break;
      }
    }
    if (c.tree_size < 1 || c.tree_size > static_cast<std::int64_t>(leaves_.size())) {
      Fail(static_cast<std::int64_t>(leaves_.size()) + 1,
           StrCat("the log ends at record ", leaves_.size(), " but a signed checkpoint (",
                  FormatRfc3339(c.time), ") covers ", c.tree_size,
                  " records: records were removed from the end"));
      break;
    }
    Sha256Digest root = MerkleRoot(std::span(leaves_).first(static_cast<std::size_t>(c.tree_size)));
    if (ToHex(root) != c.root) {
      Fail(good + 1, StrCat("records ", good + 1, " to ", c.tree_size,
                            " do not match the checkpoint signed at ", FormatRfc3339(c.time),
                            ": one of them was changed after it was signed"));
      break;
    }
    good = std::max(good, c.tree_size);
    ++report_.checkpoints;
  }
  report_.unsigned_records = static_cast<std::int64_t>(leaves_.size()) - good;
  return report_;
}

json ToJson(const AuditRecord& r) {
  json j = {{"seq", r.seq},
            {"time", FormatRfc3339(r.time)},
            {"actor", r.actor},
            {"action", r.action},
            {"subject", r.subject},
            {"payload_hash", r.payload_hash},
            {"prev_hash", r.prev_hash},
            {"hash", r.hash}};
  if (r.payload) {
    j["payload"] = *r.payload;  // the exact text that was hashed
  } else {
    j["payload"] = nullptr;
  }
  return j;
}

Result<AuditRecord> AuditRecordFromJson(const json& j) {
  try {
    AuditRecord r;
    r.seq = j.at("seq").get<std::int64_t>();
    auto t = ParseRfc3339(j.at("time").get<std::string>());
    if (!t) return InvalidArgument("time is not RFC 3339", "time");
    r.time = *t;
    r.actor = j.at("actor").get<std::string>();
    r.action = j.at("action").get<std::string>();
    r.subject = j.at("subject").get<std::string>();
    if (j.contains("payload") && j.at("payload").is_string())
      r.payload = j.at("payload").get<std::string>();
    r.payload_hash = j.at("payload_hash").get<std::string>();
    r.prev_hash = j.at("prev_hash").get<std::string>();
    r.hash = j.at("hash").get<std::string>();
    return r;
  } catch (const json::exception& e) {
    return InvalidArgument(StrCat("not an audit record: ", e.what()));
  }
}

json ToJson(const AuditCheckpoint& c) {
  return {{"tree_size", c.tree_size},
          {"root", c.root},
          {"time", FormatRfc3339(c.time)},
          {"key_id", c.key_id},
          {"signature", c.signature}};
}

Result<AuditCheckpoint> AuditCheckpointFromJson(const json& j) {
  try {
    AuditCheckpoint c;
    c.tree_size = j.at("tree_size").get<std::int64_t>();
    c.root = j.at("root").get<std::string>();
    auto t = ParseRfc3339(j.at("time").get<std::string>());
    if (!t) return InvalidArgument("time is not RFC 3339", "time");
    c.time = *t;
    c.key_id = j.at("key_id").get<std::string>();
    c.signature = j.at("signature").get<std::string>();
    return c;
  } catch (const json::exception& e) {
    return InvalidArgument(StrCat("not an audit checkpoint: ", e.what()));
  }
}

}  // namespace sluss::core
