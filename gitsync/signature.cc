// VerifySignature: a commit's signature checked by the tools git itself
// uses (ssh-keygen -Y verify for SSH, gpgv for OpenPGP) against the trust
// anchors in slussd's config.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/strings.h"
#include "gitsync/gitsync.h"
#include "gitsync/internal/spawn.h"

namespace sluss::gitsync {

using core::StrCat;

namespace {

struct ToolResult {
  int status = -1;     // exit code; -1 when it could not start or was killed
  std::string output;  // stdout and stderr, the first 64 KiB
};

// Runs argv[0] (looked up in PATH) with stdin from `stdin_path`; what it printed.
ToolResult RunTool(const std::vector<std::string>& argv, const std::string& stdin_path) {
  ToolResult r;
  internal::Spawned child = internal::Spawn(argv, stdin_path);
  if (child.pid < 0) {
    r.output = StrCat("cannot run ", argv[0], ": ", std::strerror(child.error));
    return r;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(child.out, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (r.output.size() < 65536) r.output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(child.out);
  const int status = internal::Reap(child.pid);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A private temporary directory, removed with its files.
struct TempDir {
  std::string path;
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = StrCat(base && *base ? base : "/tmp", "/sluss-sig.XXXXXX");
    if (::mkdtemp(tmpl.data())) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  std::string Write(const std::string& name, const std::string& data) const {
    std::string p = StrCat(path, "/", name);
    std::ofstream(p, std::ios::binary) << data;
    return p;
  }
};

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (auto nl = s.rfind('\n'); nl != std::string::npos) s = s.substr(nl + 1);
  return s;
}

// "... key SHA256:abc..." -> "SHA256:abc..."
std::string KeyOf(const std::string& output) {
  auto at = output.find("SHA256:");
  if (at == std::string::npos) return "";
  auto end = output.find_first_of(" \n", at);
  return output.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// The signature and the signed data as files, where the tools read them.
struct SignatureFiles {
  const TempDir& dir;
  std::string sig;
  std::string data;
};

SignatureCheck VerifySsh(const SignatureFiles& f, std::string_view person,
                         const std::string& allowed_signers, SignatureCheck c) {
  const std::string& sig = f.sig;
  const std::string& data = f.data;
  c.signer = KeyOf(RunTool({"ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", sig}, data).output);
  auto v = RunTool({"ssh-keygen", "-Y", "verify", "-f", allowed_signers, "-I", std::string(person),
                    "-n", "git", "-s", sig},
                   data);
  if (v.status == 0) {
    c.status = "good";
    c.detail = Trimmed(v.output);
    return c;
  }
  auto who = RunTool({"ssh-keygen", "-Y", "find-principals", "-f", allowed_signers, "-s", sig}, data);
  if (who.status != 0) {
    c.status = "unknown_key";
    c.detail = StrCat("key ", c.signer.empty() ? "?" : c.signer, " is not in ", allowed_signers);
    return c;
  }
  std::string principals = Trimmed(who.output);
  c.status = "bad";
  c.detail = principals == person ? Trimmed(v.output)
                                  : StrCat("signed with a key of ", principals, ", not of ", person);
  return c;
}

SignatureCheck VerifyOpenPgp(const SignatureFiles& f, std::string_view person,
                             const std::string& keyring, SignatureCheck c) {
  std::string abs = std::filesystem::absolute(keyring).string();
  auto v = RunTool({"gpgv", "--homedir", f.dir.path, "--status-fd", "1", "--keyring", abs, f.sig, f.data},
                   "/dev/null");
  std::string uid;
  bool good = false, bad = false, no_key = false;
  std::size_t start = 0;
  while (start < v.output.size()) {
    std::size_t end = v.output.find('\n', start);
    if (end == std::string::npos) end = v.output.size();
    std::string_view line(v.output.data() + start, end - start);
    start = end + 1;
    if (!line.starts_with("[GNUPG:] ")) continue;
    line.remove_prefix(9);
    auto word = [&](int n) {
      std::size_t s = 0;
      for (int i = 0; i < n && s != std::string_view::npos; ++i) {
        s = line.find(' ', s);
        if (s != std::string_view::npos) ++s;
      }
      if (s == std::string_view::npos) return std::string_view();
      return line.substr(s, line.find(' ', s) - s);
    };
    if (line.starts_with("GOODSIG ")) {
      good = true;
      auto s = line.find(' ', 8);
      uid = s == std::string_view::npos ? "" : std::string(line.substr(s + 1));
    } else if (line.starts_with("VALIDSIG ")) {
      c.signer = std::string(word(1));
    } else if (line.starts_with("BADSIG ")) {
      bad = true;
    } else if (line.starts_with("NO_PUBKEY ")) {
      no_key = true;
      c.signer = std::string(word(1));
    }
  }
  if (good && v.status == 0) {
    if (uid.find(StrCat("<", person, ">")) != std::string::npos) {
      c.status = "good";
      c.detail = StrCat("good signature from ", uid);
    } else {
      c.status = "bad";
      c.detail = StrCat("signed by ", uid, ", not by ", person);
    }
  } else if (no_key) {
    c.status = "unknown_key";
    c.detail = StrCat("key ", c.signer, " is not in ", keyring);
  } else {
    c.status = "bad";
    c.detail = bad ? "the signature does not match the commit" : Trimmed(v.output);
  }
  return c;
}

}  // namespace

SignatureCheck VerifySignature(const CommitInfo& commit, std::string_view person,
                               const SignerTrust& trust) {
  SignatureCheck c;
  c.format = commit.signature.format;
  if (c.format.empty()) {
    c.status = "none";
    return c;
  }
  const bool ssh = c.format == "ssh" && !trust.allowed_signers.empty();
  const bool pgp = c.format == "openpgp" && !trust.gpg_keyring.empty();
  if (ssh || pgp) {
    TempDir dir;
    if (dir.path.empty()) {
      c.status = "unverified";
      c.detail = "cannot make a temporary directory";
      return c;
    }
    SignatureFiles files{dir, dir.Write(ssh ? "sig" : "sig.asc", commit.signature.signature),
                         dir.Write("data", commit.signature.signed_data)};
    return ssh ? VerifySsh(files, person, trust.allowed_signers, c)
               : VerifyOpenPgp(files, person, trust.gpg_keyring, c);
  }
  c.status = "unverified";
  c.detail = c.format == "ssh"       ? "no git.allowed_signers configured"
             : c.format == "openpgp" ? "no git.gpg_keyring configured"
                                     : StrCat(c.format, " signatures are not checked");
  return c;
}

}  // namespace sluss::gitsync
