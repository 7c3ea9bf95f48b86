#include "daemon/state_commands.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <vector>
#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/strings.h"
#include "core/time.h"
#include "executors/job_dirs.h"
#include "logging/log.h"
#include "provenance/audit_signer.h"
#include "store/audit_anchor.h"
#include "store/high_water.h"

namespace sluss::daemon {

namespace fs = std::filesystem;
using core::StrCat;
using logging::Log;
using logging::LogLevel;
using nlohmann::json;

namespace {

json MarkJson(const store::HighWater& m) {
  return {{"instance", m.instance},
          {"audit_seq", m.audit_seq},
          {"audit_hash", m.audit_hash},
          {"last_job_id", m.last_job_id}};
}

std::string AuditPublicKeyPath(const Config& cfg) {
  return fs::path(AuditKeyPath(cfg)).replace_extension(".pub").string();
}

// A database put back together with its mark (or after the mark was
// removed) passes the mark's check, but the job directories of the jobs it
// lost are still in STATE_DIR/jobs: they are the evidence, named. Empty
// when every attempt directory is the database's.
std::string UnknownJobDirs(store::SqliteStore& s, const Config& cfg) {
  const std::string jobs = cfg.state_dir + "/jobs";
  auto unknown = executors::UnknownAttempts(s, jobs);
  if (!unknown) return StrCat("cannot check the job directories: ", unknown.error().message);
  if (unknown->empty()) return "";
  std::vector<std::string> shown(unknown->begin(),
                                 unknown->begin() + std::min<std::size_t>(unknown->size(), 3));
  return StrCat("the database ", cfg.DatabasePath(), " does not know the job director",
                unknown->size() == 1 ? "y " : "ies ", core::Join(shown, ", "),
                unknown->size() > shown.size() ? StrCat(" (", unknown->size(), " in all)") : "",
                " in ", jobs, ": it was rolled back (an older backup put back with its mark, or "
                "after the mark was removed), and the jobs it lost are not accounted for");
}

// The audit key's public half, from the private key slussd signs with
// ("" when there is none yet).
core::Result<std::string> AuditPublicKey(const Config& cfg) {
  const std::string path = AuditKeyPath(cfg);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::string();
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return core::Fail(core::ErrorCode::kFailedPrecondition, StrCat("cannot read the audit key ", path));
  auto pub = core::Ed25519PublicOf(text.str());
  if (!pub)
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("audit.signing_key ", path, ": ", pub.error().message));
  return *pub;
}

// Why audit.anchor_dir cannot hold the anchor, or "": it must exist (a
// missing one may be an off-host mount that is not there; making it would
// start without the anchor) and lie outside the state directory (which it
// would roll back with).
std::string AnchorDirProblem(const Config& cfg) {
  std::error_code ec;
  const std::string& dir = cfg.audit.anchor_dir;
  if (!fs::is_directory(dir, ec)) {
    return StrCat("audit.anchor_dir ", dir,
                  " is not a directory: make it (0700, on media apart from state_dir, or "
                  "another host's mount) or mount what belongs there");
  }
  const fs::path anchor = fs::weakly_canonical(dir, ec);
  const fs::path state = fs::weakly_canonical(cfg.state_dir, ec);
  auto [a, s] = std::mismatch(anchor.begin(), anchor.end(), state.begin(), state.end());
  if (s == state.end()) {
    return StrCat("audit.anchor_dir ", dir, " is inside state_dir ", cfg.state_dir,
                  ": an anchor there is rolled back with the state it should witness; give it "
                  "a directory apart (other media, or another host's mount)");
  }
  return "";
}

// The database against the anchor in audit.anchor_dir, "" when it passes
// (or there is none yet). `*anchor`: the anchor read, when one was.
std::string AnchorProblem(store::SqliteStore& s, const Config& cfg,
                          std::optional<store::AuditAnchor>* anchor) {
  const std::string path = store::AuditAnchorPath(cfg.audit.anchor_dir);
  auto read = store::ReadAuditAnchor(path);
  if (!read) return read.error().message;
  *anchor = *read;
  if (!*read) return "";
  auto pub = AuditPublicKey(cfg);
  if (!pub) return pub.error().message;
  auto r = store::CheckAgainstAuditAnchor(s, cfg.DatabasePath(), path, **read, *pub);
  return r ? "" : r.error().message;
}

json AnchorJson(const store::AuditAnchor& a) {
  return {{"checkpoint",
           {{"tree_size", a.checkpoint.tree_size},
            {"root", a.checkpoint.root},
            {"key_id", a.checkpoint.key_id}}},
          {"mark", MarkJson(a.mark)}};
}

}  // namespace

std::string AuditKeyPath(const Config& cfg) {
  return cfg.audit.signing_key.empty()
             ? fs::absolute(cfg.state_dir + "/audit/ed25519.key").lexically_normal().string()
             : fs::absolute(cfg.audit.signing_key).string();
}

provenance::AuditSignerOptions SignerOptions(const Config& cfg) {
  provenance::AuditSignerOptions o;
  o.key_path = AuditKeyPath(cfg);
  o.every = cfg.audit.checkpoint_every;
  o.interval = std::chrono::seconds(cfg.audit.checkpoint_interval_s);
  o.retention = std::chrono::days(cfg.audit.retention_days);
  return o;
}

int LockStateDir(const std::string& dir) {
  std::string path = dir + "/slussd.lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    Log(LogLevel::kError, StrCat("cannot open ", path, ": ", std::strerror(errno)));
    return -1;
  }
  // A child of a slussd that just died (forked, not yet exec'd) may hold
  // the lock for a moment after its parent is gone: wait up to 5 s.
  bool locked = false;
  for (int i = 0; i < 50 && !locked; ++i) {
    locked = flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (!locked) usleep(100'000);
  }
  if (!locked) {
    char buf[32] = {};
    (void)!pread(fd, buf, sizeof buf - 1, 0);
    Log(LogLevel::kError, StrCat("another slussd (pid ", std::string(buf), ") is using ", dir,
                                 "; stop it first or give this one another state_dir"));
    close(fd);
    return -1;
  }
  std::string pid = std::to_string(getpid());
  (void)!ftruncate(fd, 0);
  (void)!pwrite(fd, pid.data(), pid.size(), 0);
  return fd;
}

std::unique_ptr<store::SqliteStore> OpenCheckedStore(const Config& cfg) {
  const std::string db = cfg.DatabasePath();
  const std::string mark_path = store::HighWaterPath(db);
  auto refuse = [](const std::string& why) {
    Log(LogLevel::kError, StrCat("refusing to start: ", why));
    return nullptr;
  };
  auto mark = store::ReadHighWater(mark_path);
  if (!mark) return refuse(mark.error().message);
  if (auto r = store::CheckDatabaseFile(db, *mark); !r) return refuse(r.error().message);
  auto opened = store::SqliteStore::Open(db);
  if (!opened)
    return refuse(StrCat("cannot open the state database ", db, ": ", opened.error().message));
  std::unique_ptr<store::SqliteStore> s = std::move(*opened);
  if (auto r = store::CheckAgainstHighWater(*s, db, *mark); !r) return refuse(r.error().message);
  if (auto lost = UnknownJobDirs(*s, cfg); !lost.empty()) {
    return refuse(StrCat(lost, ": restore the newest backup (docs/operations.md, \"Restore\"), or, "
                               "to go on with what the database holds and record the loss in the "
                               "audit log, run 'slussd recover --accept-loss' (it sets those "
                               "directories aside)"));
  }
  if (cfg.audit.anchor_dir.empty()) {
    Log(LogLevel::kWarn,
        "audit.anchor_dir is not set: the start compares the database only with the mark "
        "beside it, so a state directory put back whole from an older copy (database, mark "
        "and jobs/) starts without a word; set it to a directory apart from state_dir "
        "(docs/operations.md, \"The audit anchor\")");
  } else {
    if (auto why = AnchorDirProblem(cfg); !why.empty()) return refuse(why);
    std::optional<store::AuditAnchor> anchor;
    if (auto why = AnchorProblem(*s, cfg, &anchor); !why.empty()) return refuse(why);
    // A database that was ever signed had an anchor, unless anchor_dir is
    // new to it: said, since a lost anchor checks nothing.
    auto signed_once = s->LatestAuditCheckpoint();
    if (!anchor && signed_once && *signed_once) {
      Log(LogLevel::kWarn,
          StrCat("there is no audit anchor in ", cfg.audit.anchor_dir,
                 " but the database holds signed audit checkpoints: the first start with "
                 "audit.anchor_dir, or the anchor was lost (is the right file system mounted "
                 "there?); writing a new one"));
    }
  }
  if (!*mark) {
    // A database with an instance id had a mark once: someone removed it.
    // One without is new, or from a sluss that kept no mark.
    auto now = store::HighWaterOf(*s);
    if (now && !now->instance.empty()) {
      Log(LogLevel::kWarn, StrCat("the high-water mark beside ", db,
                                  " is missing, so this start cannot tell whether the "
                                  "database lost changes; writing a new one"));
    }
  }
  auto instance = store::EnsureInstance(*s, "");
  if (!instance) return refuse(instance.error().message);
  store::HighWater none;
  if (auto r = store::RefreshHighWater(*s, mark_path, &none); !r)
    return refuse(StrCat("cannot write the high-water mark: ", r.error().message));
  return s;
}

// What a backup writes before it is whole (the copy, its journal, the
// mark and the key under temporary names), and what a killed one can
// leave after its first rename: a key, or a database whose mark never
// came. None of it is a backup, since a backup is whole only with its mark.
constexpr const char* kBackupLeftovers[] = {
    "sluss.db.partial",          "sluss.db.partial-journal", "sluss.db.partial-wal",
    "sluss.db.partial-shm",      "sluss.db.mark.partial",    "sluss.db.mark.partial.tmp",
    "audit-ed25519.pub.partial", "audit-ed25519.pub",        "sluss.db"};

bool IsBackupLeftover(const std::string& name) {
  return std::find(std::begin(kBackupLeftovers), std::end(kBackupLeftovers), name) !=
         std::end(kBackupLeftovers);
}

int Backup(const Config& cfg, const std::string& dir) {
  // A backup holds what the state directory holds (token hashes, the audit
  // log's payloads): private to the user slussd runs as, like the state.
  umask(077);
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    std::cerr << "slussd backup: " << dir << " is not a directory; back up into a new directory\n";
    return 1;
  }
  const bool made = !fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) {
    std::cerr << "slussd backup: cannot make " << dir << ": " << ec.message() << "\n";
    return 1;
  }
  // One backup at a time into a directory: another's files in progress
  // are not leftovers. The lock goes with the process, killed or not.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0 || ::flock(dir_fd, LOCK_EX | LOCK_NB) != 0) {
    std::cerr << "slussd backup: another backup is writing into " << dir << "\n";
    if (dir_fd >= 0) ::close(dir_fd);
    return 1;
  }
  struct CloseFd {
    int fd;
    ~CloseFd() { ::close(fd); }
  } close_dir{dir_fd};
  // A directory holding only what a killed backup left (no mark, so no
  // backup) is cleaned up and used; one holding a whole backup or anything
  // else is refused.
  std::vector<std::string> leftovers;
  bool other = false;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (IsBackupLeftover(name) && e.is_regular_file(ec))
      leftovers.push_back(name);
    else
      other = true;
  }
  if (other) {
    std::cerr << "slussd backup: " << dir << " is not empty; back up into a new directory\n";
    return 1;
  }
  if (!leftovers.empty()) {
    std::sort(leftovers.begin(), leftovers.end());
    for (const auto& name : leftovers) {
      fs::remove(fs::path(dir) / name, ec);
      if (ec) {
        std::cerr << "slussd backup: " << dir << " holds what an interrupted backup left ("
                  << core::Join(leftovers, ", ") << "), and " << name
                  << " cannot be removed: " << ec.message() << "; remove them and try again\n";
        return 1;
      }
    }
    std::cerr << "slussd backup: removed what an interrupted backup left in " << dir << ": "
              << core::Join(leftovers, ", ") << "\n";
  }
  const std::string copy = dir + "/sluss.db";
  const std::string partial = copy + ".partial";
  const std::string mark_partial = copy + ".mark.partial";
  const std::string pub_partial = dir + "/audit-ed25519.pub.partial";
  // A backup that failed half-way (a full disk, an unreadable copy) leaves
  // nothing that could pass for one: what it wrote is removed, and the
  // message says how much room the file system had.
  auto fail = [&](const std::string& why) {
    for (const char* name : kBackupLeftovers) fs::remove(fs::path(dir) / name, ec);
    fs::remove(copy + ".mark", ec);
    if (made) fs::remove(dir, ec);
    std::string room;
    struct statvfs st {};
    const fs::path where = made ? fs::absolute(dir, ec).parent_path() : fs::path(dir);
    if (statvfs(where.c_str(), &st) == 0)
      room = StrCat(" (", static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize,
                    " bytes free on its file system)");
    std::cerr << "slussd backup: " << why << "; nothing kept in " << dir << room << "\n";
    return 1;
  };
  const std::string db = cfg.DatabasePath();
  auto source = store::SqliteStore::OpenReadOnly(db);
  if (!source) return fail(source.error().message);
  if (auto r = (*source)->BackupTo(partial); !r) return fail(r.error().message);
  // The copy's own mark: what it holds, for a restore into an empty state
  // directory. The copy is closed before anything is removed.
  std::optional<store::HighWater> mark;
  std::string why;
  {
    auto copied = store::SqliteStore::OpenReadOnly(partial);
    if (!copied) {
      why = StrCat("the copy cannot be read: ", copied.error().message);
    } else if (auto r = (*copied)->QuickCheck(); !r) {
      why = StrCat("the copy fails its check: ", r.error().message);
    } else if (auto m = store::HighWaterOf(**copied); !m) {
      why = m.error().message;
    } else {
      mark = *m;
    }
  }
  if (!mark) return fail(why);
  if (auto r = store::WriteHighWater(mark_partial, *mark); !r) return fail(r.error().message);
  const std::string pub = AuditPublicKeyPath(cfg);
  const bool has_pub = fs::exists(pub, ec);
  if (has_pub) {
    fs::copy_file(pub, pub_partial, ec);
    if (ec) return fail(StrCat("cannot copy ", pub, ": ", ec.message()));
  }
  // Every file whole: into place, the mark last, which makes it a backup
  // (a restore and the next backup take a database without its mark for
  // a leftover).
  auto place = [&](const std::string& from, const std::string& to) -> bool {
    if (::rename(from.c_str(), to.c_str()) == 0) return true;
    why = StrCat("cannot rename ", from, " to ", to, ": ", std::strerror(errno));
    return false;
  };
  if ((has_pub && !place(pub_partial, dir + "/audit-ed25519.pub")) || !place(partial, copy) ||
      ::fsync(dir_fd) != 0 || !place(mark_partial, store::HighWaterPath(copy)) ||
      ::fsync(dir_fd) != 0)
    return fail(why.empty() ? StrCat("cannot sync ", dir, ": ", std::strerror(errno)) : why);
  std::cerr << "slussd backup: " << copy << " holds audit record " << mark->audit_seq << " and job "
            << mark->last_job_id << "; with sluss.db.mark"
            << (has_pub ? " and audit-ed25519.pub" : "") << "\n";
  return 0;
}

int Recover(const Config& cfg, bool accept_loss) {
  umask(077);  // the directory it sets job directories aside in, like the state
  std::error_code ec;
  fs::create_directories(cfg.state_dir, ec);
  int lock_fd = LockStateDir(cfg.state_dir);
  if (lock_fd < 0) return 1;
  const std::string db = cfg.DatabasePath();
  const std::string mark_path = store::HighWaterPath(db);
  auto mark = store::ReadHighWater(mark_path);
  std::optional<store::HighWater> old_mark = mark ? *mark : std::nullopt;
  std::string problem;
  if (auto r = store::CheckDatabaseFile(db, old_mark); !r) problem = r.error().message;
  auto opened = store::SqliteStore::Open(db);
  if (!opened) {
    std::cerr << "slussd recover: " << opened.error().message
              << "\nA damaged database cannot be recovered in place: restore the newest backup, "
                 "or move "
              << db << " aside and run 'slussd recover --accept-loss' to start from nothing.\n";
    return 1;
  }
  store::SqliteStore& s = **opened;
  if (auto r = s.QuickCheck(); !r) {
    std::cerr << "slussd recover: the database " << db << " is damaged (" << r.error().message
              << ").\nA damaged database cannot be recovered in place: restore the newest "
                 "backup, or move it aside and run 'slussd recover --accept-loss' to start "
                 "from nothing.\n";
    return 1;
  }
  if (problem.empty()) {
    if (!mark)
      problem = mark.error().message;
    else if (auto r = store::CheckAgainstHighWater(s, db, old_mark); !r)
      problem = r.error().message;
  }
  if (problem.empty()) problem = UnknownJobDirs(s, cfg);
  // The anchor apart from the state directory: checked even when the mark
  // agrees (a state directory put back whole agrees with its own mark).
  std::optional<store::AuditAnchor> anchor;
  const std::string anchor_path =
      cfg.audit.anchor_dir.empty() ? "" : store::AuditAnchorPath(cfg.audit.anchor_dir);
  if (!anchor_path.empty()) {
    if (auto why = AnchorDirProblem(cfg); !why.empty()) {
      std::cerr << "slussd recover: " << why << "\n";
      return 1;
    }
    if (auto why = AnchorProblem(s, cfg, &anchor); !why.empty() && problem.empty())
      problem = why;
  }
  if (problem.empty()) {
    std::cerr << "slussd recover: the database accounts for its high-water mark; nothing to "
                 "recover\n";
    return 0;
  }
  std::cerr << "slussd recover: " << problem << "\n";
  if (!accept_loss) {
    std::cerr << "Run 'slussd recover --accept-loss' to go on with what the database holds.\n";
    return 1;
  }
  auto instance = store::EnsureInstance(s, old_mark ? old_mark->instance : "");
  auto before = store::HighWaterOf(s);
  if (!instance || !before) {
    std::cerr << "slussd recover: "
              << (!instance ? instance.error().message : before.error().message) << "\n";
    return 1;
  }
  // Job directories of jobs the database does not know (or knows as other
  // jobs with the same ids): set aside, never adopted.
  const std::string stamp = core::FormatRfc3339(core::SystemClock().Now());
  const std::string aside = StrCat(cfg.state_dir, "/jobs-set-aside/", stamp);
  auto dirs = executors::SetAsideUnknownAttempts(s, cfg.state_dir + "/jobs", aside);
  if (!dirs) {
    std::cerr << "slussd recover: " << dirs.error().message << "\n";
    return 1;
  }
  json payload = {{"problem", problem},
                  {"database", MarkJson(*before)},
                  {"job_dirs_set_aside", dirs->set_aside},
                  {"job_dirs_kept", dirs->kept.size()}};
  if (old_mark) payload["mark"] = MarkJson(*old_mark);
  if (anchor) {
    // Both values: the anchor's checkpoint, and what the database holds
    // over the same records.
    payload["anchor"] = AnchorJson(*anchor);
    const std::int64_t n = std::min(anchor->checkpoint.tree_size, before->audit_seq);
    if (auto root = store::AuditRootOf(s, n); root)
      payload["database"]["audit_root_of_first"] = {{"records", n}, {"root", *root}};
  }
  if (auto root = store::AuditRootOf(s, before->audit_seq); root)
    payload["database"]["audit_root"] = *root;
  if (!dirs->set_aside.empty()) payload["set_aside_in"] = aside;
  auto rec = s.AppendAudit({"slussd recover", "state.loss_accepted", "state", payload},
                           core::SystemClock().Now());
  if (!rec) {
    std::cerr << "slussd recover: cannot record the loss in the audit log: " << rec.error().message
              << "\n";
    return 1;
  }
  store::HighWater none;
  if (auto r = store::RefreshHighWater(s, mark_path, &none); !r) {
    std::cerr << "slussd recover: cannot write the high-water mark: " << r.error().message << "\n";
    return 1;
  }
  // The anchor moves to a checkpoint of what the database holds now, the
  // record of the loss included.
  if (!anchor_path.empty()) {
    core::SystemClock clock;
    auto signer = provenance::AuditSigner::Open(s, clock, SignerOptions(cfg));
    core::Result<std::int64_t> signed_size =
        signer ? signer->MaybeCheckpoint(/*force=*/true)
               : core::Result<std::int64_t>(std::unexpected(signer.error()));
    store::AuditAnchor moved_to;
    core::Result<bool> moved = signed_size ? store::RefreshAuditAnchor(s, anchor_path, &moved_to)
                                           : core::Result<bool>(std::unexpected(signed_size.error()));
    if (!moved) {
      std::cerr << "slussd recover: the loss is recorded (audit record " << rec->seq
                << "), but the audit anchor " << anchor_path << " cannot be moved: "
                << moved.error().message << "; fix that and run recover again\n";
      return 1;
    }
    std::cerr << "slussd recover: the audit anchor " << anchor_path << " now holds "
              << moved_to.checkpoint.tree_size << " records (it held "
              << (anchor ? anchor->checkpoint.tree_size : 0) << ")\n";
  }
  std::cerr << "slussd recover: loss accepted and recorded as audit record " << rec->seq
            << "; the database holds audit record " << before->audit_seq << " and job "
            << before->last_job_id << "\n";
  for (const auto& d : dirs->set_aside)
    std::cerr << "slussd recover: job directory " << d << " is not the database's: set aside in "
              << aside << "\n";
  close(lock_fd);
  return 0;
}

}  // namespace sluss::daemon
