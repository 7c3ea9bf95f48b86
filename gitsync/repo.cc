#include <fcntl.h>
#include <git2.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

#include "core/glob.h"
#include "core/strings.h"
#include "gitsync/gitsync.h"

namespace sluss::gitsync {

using core::StrCat;

namespace {

void InitLibgit2() {
  static std::once_flag once;
  std::call_once(once, [] { git_libgit2_init(); });
}

core::Error GitError(std::string_view what) {
  const git_error* e = git_error_last();
  return core::Error{core::ErrorCode::kInternal,
                     StrCat(what, ": ", e && e->message ? e->message : "unknown libgit2 error"),
                     ""};
}

// RAII for libgit2 objects.
template <typename T, void (*Free)(T*)>
struct Owned {
  T* p = nullptr;
  ~Owned() {
    if (p) Free(p);
  }
};

core::Result<git_oid> ParseOid(std::string_view sha) {
  git_oid oid;
  if (sha.size() != GIT_OID_HEXSZ ||
      git_oid_fromstrn(&oid, sha.data(), sha.size()) != 0) {
    return core::InvalidArgument(StrCat("not a commit id: ", core::Quote(sha)));
  }
  return oid;
}

std::string OidHex(const git_oid* oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, oid);
  return buf;
}

std::string Base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(std::max(len, 0)));
  return out;
}

// `text` cut at each of `seps`, empty pieces dropped.
std::vector<std::string_view> Split(std::string_view text, std::string_view seps) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find_first_of(seps, start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// What the fetch callbacks need, for one fetch.
struct FetchState {
  const Credentials* credentials = nullptr;
  std::string token;
  int asked = 0;
  std::string failure;  // why the callbacks refused, for the error message
};

// libgit2 asks again after a refusal; the configured credentials are
// offered once, so a wrong token ends the fetch instead of looping.
int OnCredentials(git_credential** out, const char* /*url*/, const char* user_from_url,
                  unsigned int allowed, void* payload) {
  auto* st = static_cast<FetchState*>(payload);
  const Credentials& c = *st->credentials;
  const bool url_user = user_from_url && *user_from_url;
  if (allowed & GIT_CREDENTIAL_USERNAME) {
    return git_credential_username_new(
        out, url_user ? user_from_url : c.username.empty() ? "git" : c.username.c_str());
  }
  if (st->asked++ > 0) {
    st->failure = "the remote refused the configured credentials";
    return GIT_EAUTH;
  }
  if ((allowed & GIT_CREDENTIAL_SSH_KEY) && !c.ssh_key.empty()) {
    const char* user = url_user ? user_from_url : c.username.empty() ? "git" : c.username.c_str();
    return git_credential_ssh_key_new(out, user, nullptr, c.ssh_key.c_str(), nullptr);
  }
  if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && !c.token_file.empty()) {
    const char* user = !c.username.empty() ? c.username.c_str() : url_user ? user_from_url : "sluss";
    return git_credential_userpass_plaintext_new(out, user, st->token.c_str());
  }
  st->failure = "the remote asks for credentials and none are configured for this URL "
                "(git.credentials in slussd's config)";
  return GIT_EAUTH;
}

// With a known_hosts file configured, an SSH host key must be in it for the
// host (plain "host" or "[host]:port" entries, as ssh-keyscan writes them);
// otherwise libgit2 checks as it does by default.
int OnCertificate(git_cert* cert, int /*valid*/, const char* host, void* payload) {
  auto* st = static_cast<FetchState*>(payload);
  const std::string& file = st->credentials->known_hosts;
  if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2 || file.empty()) return GIT_PASSTHROUGH;
  const auto* key = reinterpret_cast<const git_cert_hostkey*>(cert);
  if (!(key->type & GIT_CERT_SSH_RAW)) {
    st->failure = "the SSH host key cannot be read to check it against known_hosts";
    return GIT_ECERTIFICATE;
  }
  const std::string want = Base64(reinterpret_cast<const unsigned char*>(key->hostkey), key->hostkey_len);
  std::FILE* f = std::fopen(file.c_str(), "re");
  if (!f) {
    st->failure = StrCat("cannot read known_hosts ", file, ": ", std::strerror(errno));
    return GIT_ECERTIFICATE;
  }
  char line[16384];
  bool found = false;
  while (!found && std::fgets(line, sizeof line, f)) {
    std::string_view l(line);
    while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.remove_suffix(1);
    auto fields = Split(l, " \t");
    if (fields.size() < 3 || l.starts_with("#")) continue;
    bool host_matches = false;
    for (std::string_view h : Split(fields[0], ","))
      if (h == host || (h.starts_with("[") && h.substr(1, h.find(']') - 1) == host)) host_matches = true;
    found = host_matches && fields[2] == want;
  }
  std::fclose(f);
  if (!found) {
    st->failure = StrCat("the SSH host key of ", host, " is not in ", file);
    return GIT_ECERTIFICATE;
  }
  return 0;
}

// One entry of a tree walk, with its path from the root.
struct WalkEntry {
  std::string path;
  git_oid oid;
  git_filemode_t mode;
  git_object_t type;
};

struct WalkState {
  std::vector<WalkEntry>* entries = nullptr;  // null: only check names
  std::set<std::string>* seen_trees = nullptr;  // null: walk every subtree
  std::string bad;  // the refusal, when an entry's name is refused
};

int OnWalkEntry(const char* root, const git_tree_entry* e, void* payload) {
  auto* st = static_cast<WalkState*>(payload);
  const char* name = git_tree_entry_name(e);
  // libgit2 stops names at NUL, so a name git stored with one reads shorter;
  // git's own tree parser refuses such trees, and fsck on receive.
  if (auto why = BadTreeEntryName(name)) {
    st->bad = StrCat("tree entry ", core::Quote(StrCat(root, name)), " refused: ", *why,
                     " (git refuses to check out such a path, and sluss will not write it)");
    return -1;
  }
  if (git_tree_entry_type(e) == GIT_OBJECT_TREE && st->seen_trees &&
      !st->seen_trees->insert(OidHex(git_tree_entry_id(e))).second)
    return 1;  // checked already: skip the subtree
  if (st->entries)
    st->entries->push_back({StrCat(root, name), *git_tree_entry_id(e), git_tree_entry_filemode(e),
                            git_tree_entry_type(e)});
  return 0;
}

// Walks `tree` (parents before children), checking every entry's name.
core::Result<void> WalkTree(git_tree* tree, WalkState& state) {
  const int rc = git_tree_walk(tree, GIT_TREEWALK_PRE, OnWalkEntry, &state);
  if (!state.bad.empty()) {
    git_error_clear();
    return core::InvalidArgument(state.bad);
  }
  if (rc != 0) return std::unexpected(GitError("walk tree"));
  return {};
}

// `rel`, a path below `root`, opened without leaving `root` and without
// following any symlink on the way, whatever is on disk.
int OpenBeneath(int root, const std::string& rel, std::uint64_t flags, std::uint64_t mode = 0) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.mode = mode;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  return static_cast<int>(::syscall(SYS_openat2, root, rel.empty() ? "." : rel.c_str(), &how,
                                    sizeof how));
}

}  // namespace

core::Result<void> Repo::InitBare(const std::string& path, std::string_view default_branch) {
  InitLibgit2();
  git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH |
               GIT_REPOSITORY_INIT_NO_REINIT;
  std::string head = std::string(default_branch);
  opts.initial_head = head.c_str();
  Owned<git_repository, git_repository_free> repo;
  if (git_repository_init_ext(&repo.p, path.c_str(), &opts) != 0) {
    if (git_error_last() && git_error_last()->klass == GIT_ERROR_REPOSITORY) {
      return core::Fail(core::ErrorCode::kAlreadyExists, StrCat("a repository exists at ", path));
    }
    return std::unexpected(GitError(StrCat("cannot create repository ", path)));
  }
  return {};
}

core::Result<std::unique_ptr<Repo>> Repo::Open(const std::string& path) {
  InitLibgit2();
  git_repository* repo = nullptr;
  if (git_repository_open_bare(&repo, path.c_str()) != 0) {
    return std::unexpected(GitError(StrCat("cannot open repository ", path)));
  }
  return std::unique_ptr<Repo>(new Repo(repo));
}

core::Result<std::unique_ptr<Repo>> Repo::OpenFromHookEnvironment() {
  InitLibgit2();
  git_repository* repo = nullptr;
  if (git_repository_open_ext(&repo, nullptr, GIT_REPOSITORY_OPEN_FROM_ENV, nullptr) != 0) {
    return std::unexpected(GitError("cannot open the repository the hook runs in"));
  }
  return std::unique_ptr<Repo>(new Repo(repo));
}

core::Result<void> Repo::ConfigureReceiveChecks(const std::string& path) {
  InitLibgit2();
  Owned<git_repository, git_repository_free> repo;
  if (git_repository_open_bare(&repo.p, path.c_str()) != 0)
    return std::unexpected(GitError(StrCat("cannot open repository ", path)));
  Owned<git_config, git_config_free> config;
  if (git_repository_config(&config.p, repo.p) != 0)
    return std::unexpected(GitError(StrCat("cannot read the config of ", path)));
  // git checks every pushed object (malformed objects, bad modes, ...) and
  // refuses the push. The names it would refuse too are left as warnings
  // so that the push reaches the pre-receive hook, which refuses them with
  // the path (git's own message names only the tree object); what the hook
  // refuses never leaves the push's quarantine.
  if (git_config_set_bool(config.p, "receive.fsckObjects", 1) != 0)
    return std::unexpected(GitError("set receive.fsckObjects"));
  for (const char* id : {"hasDot", "hasDotdot", "hasDotgit", "fullPathname", "emptyName"}) {
    if (git_config_set_string(config.p, StrCat("receive.fsck.", id).c_str(), "warn") != 0)
      return std::unexpected(GitError(StrCat("set receive.fsck.", id)));
  }
  return {};
}

Repo::~Repo() { git_repository_free(repo_); }

core::Result<void> Repo::Mirror(const std::string& url, const std::string& path,
                               const Credentials& credentials) {
  InitLibgit2();
  FetchState state{&credentials, "", 0, ""};
  if (!credentials.token_file.empty()) {
    std::ifstream in(credentials.token_file);
    if (!in) {
      return core::Fail(core::ErrorCode::kUnavailable,
                        StrCat("cannot read the token file ", credentials.token_file));
    }
    std::getline(in, state.token);
    while (!state.token.empty() && std::isspace(static_cast<unsigned char>(state.token.back())))
      state.token.pop_back();
  }
  Owned<git_repository, git_repository_free> repo;
  if (git_repository_open_bare(&repo.p, path.c_str()) != 0) {
    git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
    opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
    if (git_repository_init_ext(&repo.p, path.c_str(), &opts) != 0) {
      return std::unexpected(GitError(StrCat("cannot create mirror ", path)));
    }
  }
  Owned<git_remote, git_remote_free> remote;
  if (git_remote_create_anonymous(&remote.p, repo.p, url.c_str()) != 0) {
    return std::unexpected(GitError("remote"));
  }
  git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
  opts.prune = GIT_FETCH_PRUNE;
  opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  opts.callbacks.credentials = OnCredentials;
  opts.callbacks.certificate_check = OnCertificate;
  opts.callbacks.payload = &state;
  const char* spec = "+refs/heads/*:refs/heads/*";
  git_strarray refspecs = {const_cast<char**>(&spec), 1};
  if (git_remote_fetch(remote.p, &refspecs, &opts, "sluss mirror") != 0) {
    core::Error e = GitError(StrCat("cannot fetch ", url));
    if (!state.failure.empty()) e.message = StrCat("cannot fetch ", url, ": ", state.failure);
    e.code = core::ErrorCode::kUnavailable;
    return std::unexpected(e);
  }
  // HEAD follows the remote's default branch when it says which.
  const git_remote_head** heads = nullptr;
  size_t n = 0;
  if (git_remote_ls(&heads, &n, remote.p) == 0) {
    for (size_t i = 0; i < n; ++i) {
      if (std::string_view(heads[i]->name) == "HEAD" && heads[i]->symref_target) {
        git_repository_set_head(repo.p, heads[i]->symref_target);
      }
    }
  }
  return {};
}

core::Result<std::vector<BranchTip>> Repo::Branches() {
  Owned<git_reference_iterator, git_reference_iterator_free> it;
  if (git_reference_iterator_glob_new(&it.p, repo_, "refs/heads/*") != 0) {
    return std::unexpected(GitError("list branches"));
  }
  std::vector<BranchTip> out;
  git_reference* ref = nullptr;
  while (git_reference_next(&ref, it.p) == 0) {
    Owned<git_reference, git_reference_free> owned{ref};
    Owned<git_reference, git_reference_free> resolved;
    if (git_reference_resolve(&resolved.p, ref) != 0) continue;
    const git_oid* oid = git_reference_target(resolved.p);
    if (oid) out.push_back({git_reference_name(ref), OidHex(oid)});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.ref < b.ref; });
  return out;
}

core::Result<std::string> Repo::DefaultBranch() {
  Owned<git_reference, git_reference_free> head;
  if (git_reference_lookup(&head.p, repo_, "HEAD") != 0) {
    return std::unexpected(GitError("read HEAD"));
  }
  const char* target = git_reference_symbolic_target(head.p);
  return std::string(target ? target : "refs/heads/main");
}

core::Result<void> Repo::SetDefaultBranch(std::string_view ref) {
  if (git_repository_set_head(repo_, std::string(ref).c_str()) != 0)
    return std::unexpected(GitError(StrCat("set HEAD to ", ref)));
  return {};
}

core::Result<CommitInfo> Repo::Commit(std::string_view sha) {
  auto oid = ParseOid(sha);
  if (!oid) return std::unexpected(oid.error());
  Owned<git_commit, git_commit_free> c;
  if (git_commit_lookup(&c.p, repo_, &*oid) != 0) {
    return core::NotFound(StrCat("no commit ", sha));
  }
  CommitInfo info;
  info.sha = std::string(sha);
  info.tree = OidHex(git_commit_tree_id(c.p));
  const git_signature* author = git_commit_author(c.p);
  const git_signature* committer = git_commit_committer(c.p);
  info.author_name = author && author->name ? author->name : "";
  info.author_email = author && author->email ? author->email : "";
  info.committer_name = committer && committer->name ? committer->name : "";
  info.committer_email = committer && committer->email ? committer->email : "";
  git_buf sig = GIT_BUF_INIT, signed_data = GIT_BUF_INIT;
  if (git_commit_extract_signature(&sig, &signed_data, repo_, &*oid, nullptr) == 0) {
    info.signature.signature.assign(sig.ptr, sig.size);
    info.signature.signed_data.assign(signed_data.ptr, signed_data.size);
    const std::string& text = info.signature.signature;
    info.signature.format = text.starts_with("-----BEGIN SSH SIGNATURE") ? "ssh"
                            : text.starts_with("-----BEGIN PGP")         ? "openpgp"
                            : text.starts_with("-----BEGIN SIGNED MESSAGE") ? "x509"
                                                                          : "unknown";
  }
  git_buf_dispose(&sig);
  git_buf_dispose(&signed_data);
  git_error_clear();
  const char* msg = git_commit_message(c.p);
  info.message = msg ? msg : "";
  info.time = core::FromUnixMillis(static_cast<std::int64_t>(git_commit_time(c.p)) * 1000);
  return info;
}

core::Result<git_tree*> Repo::CommitTree(std::string_view sha) {
  auto oid = ParseOid(sha);
  if (!oid) return std::unexpected(oid.error());
  Owned<git_commit, git_commit_free> c;
  if (git_commit_lookup(&c.p, repo_, &*oid) != 0) return core::NotFound(StrCat("no commit ", sha));
  git_tree* tree = nullptr;
  if (git_commit_tree(&tree, c.p) != 0) return std::unexpected(GitError("read tree"));
  return tree;
}

core::Result<std::string> Repo::ReadFile(std::string_view sha, std::string_view path,
                                         std::size_t max_bytes) {
  auto t = CommitTree(sha);
  if (!t) return std::unexpected(t.error());
  Owned<git_tree, git_tree_free> tree{*t};
  Owned<git_tree_entry, git_tree_entry_free> entry;
  std::string p(path);
  if (git_tree_entry_bypath(&entry.p, tree.p, p.c_str()) != 0 ||
      git_tree_entry_type(entry.p) != GIT_OBJECT_BLOB) {
    return core::NotFound(StrCat("no file ", path, " in commit ", sha.substr(0, 10)));
  }
  Owned<git_blob, git_blob_free> blob;
  if (git_blob_lookup(&blob.p, repo_, git_tree_entry_id(entry.p)) != 0) {
    return std::unexpected(GitError("read blob"));
  }
  auto size = static_cast<std::size_t>(git_blob_rawsize(blob.p));
  if (size > max_bytes) {
    return core::Fail(core::ErrorCode::kResourceExhausted,
                      StrCat(path, " is ", size, " bytes; the limit is ", max_bytes));
  }
  return std::string(static_cast<const char*>(git_blob_rawcontent(blob.p)), size);
}

core::Result<std::vector<TreeFile>> Repo::Files(std::string_view sha) {
  auto t = CommitTree(sha);
  if (!t) return std::unexpected(t.error());
  Owned<git_tree, git_tree_free> tree{*t};
  std::vector<WalkEntry> entries;
  WalkState state{&entries, nullptr, ""};
  if (auto r = WalkTree(tree.p, state); !r) return std::unexpected(r.error());
  std::vector<TreeFile> files;
  for (const WalkEntry& e : entries) {
    if (e.type != GIT_OBJECT_BLOB) continue;  // trees recurse; commits skipped
    files.push_back({e.path, OidHex(&e.oid), static_cast<unsigned>(e.mode)});
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return files;
}

core::Result<void> Repo::CheckPushedCommits(std::string_view old_sha, std::string_view new_sha) {
  auto to = ParseOid(new_sha);
  if (!to) return std::unexpected(to.error());
  if (git_oid_is_zero(&*to)) return {};  // a deleted branch
  Owned<git_revwalk, git_revwalk_free> walk;
  if (git_revwalk_new(&walk.p, repo_) != 0) return std::unexpected(GitError("revwalk"));
  if (git_revwalk_push(walk.p, &*to) != 0) return std::unexpected(GitError("read pushed commit"));
  if (auto from = ParseOid(old_sha); from && !git_oid_is_zero(&*from))
    git_revwalk_hide(walk.p, &*from);
  // What a ref already reaches was checked when it came in.
  git_revwalk_hide_glob(walk.p, "refs/*");
  git_error_clear();
  std::set<std::string> seen_trees;
  git_oid oid;
  while (git_revwalk_next(&oid, walk.p) == 0) {
    Owned<git_commit, git_commit_free> c;
    if (git_commit_lookup(&c.p, repo_, &oid) != 0) return std::unexpected(GitError("read commit"));
    if (!seen_trees.insert(OidHex(git_commit_tree_id(c.p))).second) continue;
    Owned<git_tree, git_tree_free> tree;
    if (git_commit_tree(&tree.p, c.p) != 0) return std::unexpected(GitError("read tree"));
    WalkState state{nullptr, &seen_trees, ""};
    if (auto r = WalkTree(tree.p, state); !r)
      return core::InvalidArgument(StrCat("commit ", OidHex(&oid).substr(0, 10), ": ", r.error().message));
  }
  return {};
}

core::Result<Repo::ExportSummary> Repo::Export(std::string_view sha, const std::string& dir,
                                               const ExportLimits& limits) {
  auto t = CommitTree(sha);
  if (!t) return std::unexpected(t.error());
  Owned<git_tree, git_tree_free> tree{*t};
  std::vector<WalkEntry> entries;
  WalkState state{&entries, nullptr, ""};
  if (auto r = WalkTree(tree.p, state); !r) return std::unexpected(r.error());
  if (entries.size() > limits.max_files)
    return core::Fail(core::ErrorCode::kResourceExhausted,
                      StrCat("the commit has ", entries.size(), " files; the limit is ",
                             limits.max_files));
  if (::mkdir(dir.c_str(), 0755) != 0)
    return core::Fail(core::ErrorCode::kAlreadyExists,
                      StrCat("cannot create ", dir, ": ", std::strerror(errno)));
  int root = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root < 0) return core::Internal(StrCat("cannot open ", dir, ": ", std::strerror(errno)));
  ExportSummary summary;
  std::vector<const WalkEntry*> links;
  auto fail = [&](std::string message) -> core::Result<ExportSummary> {
    ::close(root);
    return core::Internal(std::move(message));
  };
  // Every entry is made by name (checked: one component, never "." or
  // "..") in its parent directory, which is opened beneath the root without
  // following symlinks: a crafted tree cannot reach outside `dir`, also
  // not through an entry that repeats a name or a symlink made before.
  struct Parent {
    int fd = -1;
    ~Parent() {
      if (fd >= 0) ::close(fd);
    }
  };
  auto open_parent = [&](const std::string& path, std::string& base) -> int {
    const std::size_t slash = path.rfind('/');
    base = slash == std::string::npos ? path : path.substr(slash + 1);
    return OpenBeneath(root, slash == std::string::npos ? "" : path.substr(0, slash),
                       O_PATH | O_DIRECTORY);
  };
  for (const WalkEntry& e : entries) {
    if (e.type == GIT_OBJECT_COMMIT) {
      summary.warnings.push_back(StrCat(e.path, " is a submodule; it is not in the workspace"));
      continue;
    }
    if (e.type != GIT_OBJECT_TREE && e.type != GIT_OBJECT_BLOB) continue;
    if (e.type == GIT_OBJECT_BLOB && e.mode == GIT_FILEMODE_LINK) {
      links.push_back(&e);
      continue;
    }
    std::string base;
    Parent parent{open_parent(e.path, base)};
    if (parent.fd < 0) return fail(StrCat("cannot open the directory of ", core::Quote(e.path), ": ",
                                          std::strerror(errno)));
    if (e.type == GIT_OBJECT_TREE) {
      if (::mkdirat(parent.fd, base.c_str(), 0755) != 0)
        return fail(StrCat("cannot create ", core::Quote(e.path), ": ", std::strerror(errno)));
      continue;
    }
    Owned<git_blob, git_blob_free> blob;
    if (git_blob_lookup(&blob.p, repo_, &e.oid) != 0) return fail(GitError("read blob").message);
    const auto size = static_cast<std::size_t>(git_blob_rawsize(blob.p));
    summary.bytes += size;
    if (summary.bytes > limits.max_bytes) {
      ::close(root);
      return core::Fail(core::ErrorCode::kResourceExhausted,
                        StrCat("the commit's files are larger than ", limits.max_bytes >> 20,
                               " MiB"));
    }
    const char* data = static_cast<const char*>(git_blob_rawcontent(blob.p));
    if (std::string_view(data, std::min<std::size_t>(size, 64))
            .starts_with("version https://git-lfs.github.com/spec/v1"))
      summary.warnings.push_back(
          StrCat(e.path, " is a Git LFS pointer; sluss does not fetch LFS content"));
    int fd = ::openat(parent.fd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      e.mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644);
    if (fd < 0) return fail(StrCat("cannot write ", core::Quote(e.path), ": ", std::strerror(errno)));
    for (std::size_t off = 0; off < size;) {
      ssize_t n = ::write(fd, data + off, size - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        return fail(StrCat("cannot write ", core::Quote(e.path), ": ", std::strerror(errno)));
      }
      off += static_cast<std::size_t>(n);
    }
    ::close(fd);
    ++summary.files;
  }
  // Symlinks last, so that none is in place while files are written (and
  // openat2 would refuse to pass through one anyway).
  for (const WalkEntry* e : links) {
    Owned<git_blob, git_blob_free> blob;
    if (git_blob_lookup(&blob.p, repo_, &e->oid) != 0) return fail(GitError("read blob").message);
    std::string target(static_cast<const char*>(git_blob_rawcontent(blob.p)),
                       static_cast<std::size_t>(git_blob_rawsize(blob.p)));
    if (target.find('\0') != std::string::npos)
      return fail(StrCat("symlink ", core::Quote(e->path), " has a NUL in its target"));
    std::string base;
    Parent parent{open_parent(e->path, base)};
    if (parent.fd < 0 || ::symlinkat(target.c_str(), parent.fd, base.c_str()) != 0)
      return fail(StrCat("cannot link ", core::Quote(e->path), ": ", std::strerror(errno)));
    ++summary.files;
  }
  ::close(root);
  return summary;
}

std::string TreeDigest(const std::vector<TreeFile>& files, const std::vector<std::string>& globs) {
  std::string lines;
  for (const TreeFile& f : files) {
    bool selected = globs.empty() || std::any_of(globs.begin(), globs.end(), [&](const auto& g) {
                      return core::GlobMatch(g, f.path);
                    });
    if (selected) lines += StrCat(f.mode, " ", f.oid, " ", f.path, "\n");
  }
  return StrCat("sha256:", Sha256Hex(lines));
}

std::string CacheKey(const nlohmann::json& action_spec, std::string_view image_digest,
                     std::vector<std::string> dataset_digests, std::string_view code_digest,
                     std::vector<std::string> needs_keys) {
  std::sort(dataset_digests.begin(), dataset_digests.end());
  std::sort(needs_keys.begin(), needs_keys.end());
  nlohmann::json material = {{"v", 1},
                             {"spec", action_spec},
                             {"image", image_digest},
                             {"datasets", dataset_digests},
                             {"code", code_digest},
                             {"needs", needs_keys}};
  return StrCat("sha256:", Sha256Hex(material.dump()));
}

}  // namespace sluss::gitsync
