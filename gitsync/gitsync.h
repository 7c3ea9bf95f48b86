#pragma once

// gitsync: repositories through libgit2 (the only module that includes it),
// and the cache keys of jobs. Every call blocks: run it on a worker, never on
// an I/O thread or the scheduler's strand.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/digest.h"
#include "core/error.h"
#include "core/time.h"

struct git_repository;
struct git_tree;

namespace sluss::gitsync {

struct BranchTip {
  std::string ref;     // "refs/heads/main"
  std::string commit;  // 40 hex digits
};

// A commit's signature as git stores it (the gpgsig header), unchecked.
struct CommitSignature {
  std::string format;       // "" (unsigned), "openpgp", "ssh" or "x509"
  std::string signature;    // the armored signature
  std::string signed_data;  // the commit without it: what was signed
};

struct CommitInfo {
  std::string sha;
  std::string tree;
  std::string author_name;
  std::string author_email;
  std::string committer_name;
  std::string committer_email;
  std::string message;
  core::TimePoint time;
  CommitSignature signature;
};

// Whose signatures count, from slussd's config (git.allowed_signers,
// git.gpg_keyring). Empty: signatures of that format are not checked.
struct SignerTrust {
  std::string allowed_signers;  // OpenSSH allowed_signers file (ssh-keygen -Y verify)
  std::string gpg_keyring;      // OpenPGP keyring file (gpgv --keyring)
};

struct SignatureCheck {
  // "none" (unsigned), "good" (by a trusted key of `person`), "bad" (does
  // not verify, or not by `person`), "unknown_key" (no trusted key made
  // it), "unverified" (no trust configured for its format).
  std::string status;
  std::string format;  // as CommitSignature::format
  std::string signer;  // the key: "SHA256:..." (ssh) or the fingerprint (openpgp)
  std::string detail;  // the verifier's words, for provenance
};

// Checks `commit`'s signature as `person`'s (the e-mail sluss credits the
// run to) with ssh-keygen or gpgv. Never fails: what goes wrong is a status.
SignatureCheck VerifySignature(const CommitInfo& commit, std::string_view person,
                               const SignerTrust& trust);

struct TreeFile {
  std::string path;  // "analysis/extract.py"
  std::string oid;   // the blob's id
  unsigned mode = 0; // 0100644, 0100755, 0120000 (symlink)
};

// What sluss presents to a remote that asks who it is. From slussd's
// config (git.credentials, chosen by URL prefix); never from a repository,
// never logged. The secret stays in its file until the fetch reads it.
struct Credentials {
  std::string username;     // HTTPS user; SSH user when the URL names none ("git")
  std::string token_file;   // HTTPS: the password or access token
  std::string ssh_key;      // SSH: a private key file (no passphrase)
  std::string known_hosts;  // SSH: OpenSSH known_hosts lines the host key must match
  bool empty() const { return token_file.empty() && ssh_key.empty(); }
};

// Why `name` may not be a tree entry's name, or nothing. One component of a
// path as a tree stores it: empty, '/', NUL, "." and "..", and every
// spelling that git itself treats as ".git" (any case; NTFS's "git~1" and
// trailing dots, spaces or streams; HFS+'s ignorable code points), as git's
// verify_path refuses them. A name that passes cannot leave the directory
// it is written in.
std::optional<std::string> BadTreeEntryName(std::string_view name);

class Repo {
 public:
  // Creates a bare repository whose HEAD names `default_branch` ("main").
  // kAlreadyExists when something is at `path`.
  static core::Result<void> InitBare(const std::string& path, std::string_view default_branch);
  static core::Result<std::unique_ptr<Repo>> Open(const std::string& path);
  // The repository a git hook runs in, as git describes it in the
  // environment (GIT_DIR, and during a push the quarantined
  // GIT_OBJECT_DIRECTORY and GIT_ALTERNATE_OBJECT_DIRECTORIES), so that a
  // pre-receive hook sees the objects being pushed.
  static core::Result<std::unique_ptr<Repo>> OpenFromHookEnvironment();
  // Makes a hosted repository check what is pushed to it: git's own object
  // checks (receive.fsckObjects), with the tree-name checks left to the
  // pre-receive hook (sluss-fetch --check-push), which names the path.
  static core::Result<void> ConfigureReceiveChecks(const std::string& path);
  // Makes `path` a bare mirror of `url`'s branches: creates it on first use,
  // then fetches refs/heads/* with pruning (deleted branches go, forced
  // pushes win). kUnavailable with libgit2's words when the remote cannot be
  // read (also when it refuses the credentials, or asks for some and none
  // are configured; the message says which). Runs in the calling process with no time limit:
  // the daemon calls it through FetchMirror (a child process with a timeout).
  static core::Result<void> Mirror(const std::string& url, const std::string& path,
                                   const Credentials& credentials = {});
  ~Repo();
  Repo(const Repo&) = delete;
  Repo& operator=(const Repo&) = delete;

  core::Result<std::vector<BranchTip>> Branches();
  // The branch HEAD names ("refs/heads/main"), whether or not it exists yet.
  core::Result<std::string> DefaultBranch();
  // Makes HEAD name `ref` ("refs/heads/dev"), which need not exist yet.
  core::Result<void> SetDefaultBranch(std::string_view ref);
  core::Result<CommitInfo> Commit(std::string_view sha);
  // The file at `path` in the commit's tree, without checking anything out.
  // kNotFound when there is no such file; kResourceExhausted over max_bytes.
  core::Result<std::string> ReadFile(std::string_view sha, std::string_view path,
                                     std::size_t max_bytes);
  // Every file of the commit's tree (blobs and symlinks; not submodules).
  // kInvalidArgument naming the path when an entry's name is refused
  // (BadTreeEntryName).
  core::Result<std::vector<TreeFile>> Files(std::string_view sha);
  // kInvalidArgument naming the commit and the path when a commit reachable
  // from `new_sha` and not from `old_sha` (all zeros: none) nor from any
  // ref has a tree entry whose name is refused. For the pre-receive hook.
  core::Result<void> CheckPushedCommits(std::string_view old_sha, std::string_view new_sha);

  // Writes the commit's tree into `dir` (which must not exist): regular
  // files with their mode, symlinks as symlinks (never followed while
  // writing), no .git. Refuses a tree over the limits (kResourceExhausted)
  // and one with an entry whose name is refused (kInvalidArgument naming
  // the path, before anything is written); every path is created through a
  // directory opened beneath `dir` without following symlinks (openat2
  // RESOLVE_BENEATH), so nothing is written outside it. Submodules and Git
  // LFS pointers are not fetched; each gives a warning.
  struct ExportLimits {
    std::size_t max_files = 100'000;
    std::uint64_t max_bytes = std::uint64_t{1} << 30;
  };
  struct ExportSummary {
    std::size_t files = 0;
    std::uint64_t bytes = 0;
    std::vector<std::string> warnings;
  };
  core::Result<ExportSummary> Export(std::string_view sha, const std::string& dir,
                                     const ExportLimits& limits);

 private:
  explicit Repo(git_repository* repo) : repo_(repo) {}
  // The commit's root tree; the caller frees it.
  core::Result<git_tree*> CommitTree(std::string_view sha);
  git_repository* repo_;
};

// Repo::Mirror in a child process (`helper`, the sluss-fetch program),
// killed after `timeout`: libgit2 1.5 has no network timeout of its own, and
// what a hostile remote sends is parsed outside the daemon. Errors as
// Mirror's; kUnavailable "timed out after N s" when the time ran out.
core::Result<void> FetchMirror(const std::string& helper, const std::string& url,
                               const std::string& path, const Credentials& credentials,
                               std::chrono::milliseconds timeout);

using core::Sha256Hex;

// SHA-256 over the sorted "mode oid path" lines of the files that any of
// `globs` selects (every file when `globs` is empty).
std::string TreeDigest(const std::vector<TreeFile>& files, const std::vector<std::string>& globs);

// A job's cache key: "sha256:" over the canonical action spec, the image
// digest, the dataset version digests, the digest of the code it reads and
// the keys of its needs. Equal keys mean the job would compute the same
// thing.
std::string CacheKey(const nlohmann::json& action_spec, std::string_view image_digest,
                     std::vector<std::string> dataset_digests, std::string_view code_digest,
                     std::vector<std::string> needs_keys);

// Who pushed a ref of a hosted repository to a commit: written by the
// pre-receive hook (`sluss-fetch --check-push`) before git updates the ref,
// read by the intake when it makes the tip's run, so that the run is
// credited to the pusher (never to the commit's author, which is whatever
// the pusher typed). One file per ref and commit under
// <git_dir>/sluss-pushes/, named by the SHA-256 of both.
struct PushRecord {
  std::string ref;
  std::string commit;
  std::string pusher;  // the token's user, or git.local_pusher
  std::string via;     // "https" or "local"
};
core::Result<void> WritePushRecord(const std::string& git_dir, const PushRecord& record);
// nullopt when the push left no record (made before records, or with no
// hook).
std::optional<PushRecord> ReadPushRecord(const std::string& git_dir, std::string_view ref,
                                         std::string_view commit);

}  // namespace sluss::gitsync
