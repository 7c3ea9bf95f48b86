#include "core/digest.h"

// HMAC-SHA-256 and Ed25519, through OpenSSL's EVP (see digest.cc for why
// SHA-256 alone is not): apart from digest.cc so that a program that only
// hashes (sluss-run, linked statically) does not carry, or start, the rest.

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <vector>

namespace sluss::core {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? static_cast<std::size_t>(n) : 0);
}

// An Ed25519 key from PEM text by READ (PEM_read_bio_PrivateKey or
// PEM_read_bio_PUBKEY); null for anything else.
using PemReader = EVP_PKEY* (*)(BIO*, EVP_PKEY**, pem_password_cb*, void*);
Pkey ReadEd25519(std::string_view pem, PemReader read) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  Pkey key(read(bio.get(), nullptr, nullptr, nullptr));
  if (key && EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) return nullptr;
  return key;
}
Pkey ReadPrivate(std::string_view pem) { return ReadEd25519(pem, PEM_read_bio_PrivateKey); }
Pkey ReadPublic(std::string_view pem) { return ReadEd25519(pem, PEM_read_bio_PUBKEY); }

Result<std::string> PublicPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1)
    return Internal("cannot write an Ed25519 public key");
  return BioText(bio.get());
}

}  // namespace

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &n);
  return ToHex(md, n);
}

Result<Ed25519KeyPair> GenerateEd25519() {
  EVP_PKEY* raw = nullptr;
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1)
    return Internal("cannot generate an Ed25519 key");
  Pkey key(raw);
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1)
    return Internal("cannot write an Ed25519 private key");
  Ed25519KeyPair pair;
  pair.private_pem = BioText(bio.get());
  auto pub = PublicPem(key.get());
  if (!pub) return std::unexpected(pub.error());
  pair.public_pem = *pub;
  return pair;
}

Result<std::string> Ed25519PublicOf(std::string_view private_pem) {
  Pkey key = ReadPrivate(private_pem);
  if (!key) return InvalidArgument("not an Ed25519 private key (PEM)");
  return PublicPem(key.get());
}

Result<std::string> Ed25519Sign(std::string_view private_pem, std::string_view message) {
  Pkey key = ReadPrivate(private_pem);
  if (!key) return InvalidArgument("not an Ed25519 private key (PEM)");
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  unsigned char sig[64];
  std::size_t n = sizeof sig;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &n, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1)
    return Internal("Ed25519 signing failed");
  return ToHex(sig, n);
}

Result<bool> Ed25519Verify(std::string_view public_pem, std::string_view message,
                           std::string_view signature_hex) {
  Pkey key = ReadPublic(public_pem);
  if (!key) return InvalidArgument("not an Ed25519 public key (PEM)");
  if (signature_hex.size() != 128) return false;
  // 64 bytes: two digests' worth of hex.
  auto first = DigestFromHex(signature_hex.substr(0, 64));
  auto second = DigestFromHex(signature_hex.substr(64));
  if (!first || !second) return false;
  std::vector<unsigned char> sig(first->begin(), first->end());
  sig.insert(sig.end(), second->begin(), second->end());
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1)
    return Internal("Ed25519 verification could not start");
  return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

}  // namespace sluss::core
