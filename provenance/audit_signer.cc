#include "provenance/audit_signer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/audit.h"
#include "core/digest.h"
#include "core/strings.h"
#include "logging/log.h"

namespace sluss::provenance {

using logging::Log;
using logging::LogLevel;

using core::StrCat;

namespace {

core::Result<void> WriteFileMode(const std::string& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return core::Internal(StrCat("cannot create ", path, ": ", std::strerror(errno)));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return core::Internal(StrCat("cannot write ", path));
  return {};
}

}  // namespace

core::Result<AuditSigner> AuditSigner::Open(core::Store& store, const core::Clock& clock,
                                            AuditSignerOptions options) {
  AuditSigner s(store, clock, std::move(options));
  const std::string& path = s.options_.key_path;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    auto pair = core::GenerateEd25519();
    if (!pair) return std::unexpected(pair.error());
    if (auto r = WriteFileMode(path, pair->private_pem, 0600); !r) return std::unexpected(r.error());
    std::filesystem::remove(path + ".pub", ec);
    if (auto r = WriteFileMode(std::filesystem::path(path).replace_extension(".pub").string(),
                               pair->public_pem, 0644);
        !r)
      return std::unexpected(r.error());
    Log(LogLevel::kInfo, StrCat("audit: created the checkpoint signing key ", path));
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  s.private_pem_ = text.str();
  auto pub = core::Ed25519PublicOf(s.private_pem_);
  if (!pub)
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("audit.signing_key ", path, ": ", pub.error().message));
  s.public_pem_ = *pub;
  s.key_id_ = core::KeyId(s.public_pem_);
  auto cps = store.ListAuditCheckpoints();
  if (!cps) return std::unexpected(cps.error());
  if (!cps->empty()) {
    s.last_size_ = cps->back().tree_size;
    s.last_time_ = cps->back().time;
  }
  s.last_time_ = std::max(s.last_time_, clock.Now());
  return s;
}

core::Result<std::int64_t> AuditSigner::MaybeCheckpoint(bool force) {
  auto size = store_->AuditSize();
  if (!size) return std::unexpected(size.error());
  const core::TimePoint now = clock_->Now();
  if (*size <= last_size_) return 0;
  const bool due = force || *size - last_size_ >= options_.every ||
                   now - last_time_ >= options_.interval;
  if (!due) return 0;
  auto leaves = store_->AuditLeaves(*size);
  if (!leaves) return std::unexpected(leaves.error());
  core::AuditCheckpoint c;
  c.tree_size = static_cast<std::int64_t>(leaves->size());
  c.root = core::ToHex(core::MerkleRoot(*leaves));
  c.time = now;
  c.key_id = key_id_;
  auto sig = core::Ed25519Sign(private_pem_, core::CheckpointMessage(c));
  if (!sig) return std::unexpected(sig.error());
  c.signature = *sig;
  if (auto r = store_->AddAuditCheckpoint(c); !r) return std::unexpected(r.error());
  last_size_ = c.tree_size;
  last_time_ = now;
  return c.tree_size;
}

void AuditSigner::MaybePurge() {
  const core::TimePoint now = clock_->Now();
  if (now - last_purge_ < std::chrono::hours(24)) return;
  last_purge_ = now;
  auto n = store_->PurgeAuditPayloads(now - options_.retention);
  if (n && *n > 0)
    Log(LogLevel::kInfo, StrCat("audit: deleted the payloads of ", *n,
                                " records past the retention; records and hashes stay"));
}

}  // namespace sluss::provenance
