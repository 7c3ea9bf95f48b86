#pragma once

// SHA-256 and Ed25519, the two primitives that every integrity figure in
// sluss rests on (outputs, cache keys, dataset ids, the audit chain and its
// signed checkpoints). OpenSSL's libcrypto does the work (SHA-NI where the CPU
// has it). Pure computation, no I/O: keys arrive and leave as PEM text.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace sluss::core {

using Sha256Digest = std::array<unsigned char, 32>;

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void Update(const void* data, std::size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Ends the hash; the object may not be updated again.
  Sha256Digest Final();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

Sha256Digest Sha256Of(std::string_view data);
std::string Sha256Hex(std::string_view data);

// HMAC-SHA-256 of `data` under `key`, hex (GitHub's and Gitea's webhook
// signatures).
std::string HmacSha256Hex(std::string_view key, std::string_view data);
// Equality that takes the same time wherever the strings differ (for
// secrets and signatures).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

std::string ToHex(const unsigned char* data, std::size_t size);
inline std::string ToHex(const Sha256Digest& d) { return ToHex(d.data(), d.size()); }
// nullopt unless `hex` is exactly 64 lowercase or uppercase hex digits.
std::optional<Sha256Digest> DigestFromHex(std::string_view hex);

// An Ed25519 key pair, as PKCS#8 / SubjectPublicKeyInfo PEM text.
struct Ed25519KeyPair {
  std::string private_pem;
  std::string public_pem;
};
Result<Ed25519KeyPair> GenerateEd25519();
// The public key of a private key (PEM).
Result<std::string> Ed25519PublicOf(std::string_view private_pem);
// A signature, hex (128 digits). kInvalidArgument for a key that is not an
// Ed25519 private key.
Result<std::string> Ed25519Sign(std::string_view private_pem, std::string_view message);
// False for a bad signature; kInvalidArgument for a key that is not an
// Ed25519 public key.
Result<bool> Ed25519Verify(std::string_view public_pem, std::string_view message,
                           std::string_view signature_hex);
// A short id of a public key: the first 16 hex digits of SHA-256 of its PEM.
std::string KeyId(std::string_view public_pem);

}  // namespace sluss::core
