#include "core/digest.h"

// SHA-256 by OpenSSL's own functions rather than through EVP: the same
// assembly (SHA-NI where the CPU has it, 1 GB/s here either way), but EVP's
// first use starts OpenSSL's provider machinery (its configuration file and
// the name tables of every algorithm), about 1 ms of each process's life.
// sluss-run, started for every job, hashes a few small texts and its
// outputs; it has no other use for that machinery. OpenSSL 3 keeps these
// functions, marked deprecated.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <openssl/crypto.h>

namespace sluss::core {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

struct Sha256::Ctx {
  SHA256_CTX sha;
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) { SHA256_Init(&ctx_->sha); }
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Update(const void* data, std::size_t size) { SHA256_Update(&ctx_->sha, data, size); }

Sha256Digest Sha256::Final() {
  Sha256Digest d{};
  SHA256_Final(d.data(), &ctx_->sha);
  return d;
}

Sha256Digest Sha256Of(std::string_view data) {
  Sha256 hash;  // not SHA256(), which OpenSSL 3 routes through EVP
  hash.Update(data);
  return hash.Final();
}

std::string Sha256Hex(std::string_view data) { return ToHex(Sha256Of(data)); }

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string ToHex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * size, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

std::optional<Sha256Digest> DigestFromHex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Sha256Digest d{};
  for (std::size_t i = 0; i < 32; ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    d[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return d;
}

std::string KeyId(std::string_view public_pem) { return Sha256Hex(public_pem).substr(0, 16); }

}  // namespace sluss::core
