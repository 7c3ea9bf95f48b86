#include "airlock/release_desk.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>

#include "airlock/output_check.h"
#include "airlock/release_request.h"
#include "core/digest.h"
#include "core/job_spec.h"
#include "core/strings.h"

namespace sluss::airlock {

using core::ErrorCode;
using core::Fail;
using core::Result;
using core::StrCat;
using nlohmann::json;

namespace {

std::optional<RequestState> ParseState(std::string_view s) {
  for (int i = 0; i <= static_cast<int>(RequestState::kWithdrawn); ++i) {
    auto st = static_cast<RequestState>(i);
    if (ToString(st) == s) return st;
  }
  return std::nullopt;
}

std::string_view VoteName(Vote v) { return v == Vote::kApprove ? "approve" : "request_changes"; }

// The record as the state machine sees it.
ReleaseRequest ToMachine(const core::Release& r) {
  ReleaseRequest m;
  m.author = r.author;
  m.state = ParseState(r.state).value_or(RequestState::kPending);
  for (const auto& f : r.files) {
    RequestFile& mf = m.files[f.path];
    mf.sha256 = f.sha256;
    for (const auto& v : f.votes)
      mf.votes[v.checker] = v.vote == "approve" ? Vote::kApprove : Vote::kRequestChanges;
  }
  m.reviews.insert(r.reviews.begin(), r.reviews.end());
  return m;
}

// Carries the machine's decision back into the record: state, reviews, and
// the votes it dropped (a changed file's).
void FromMachine(const ReleaseRequest& m, core::Release& r, const std::string& by,
                 core::TimePoint now) {
  const std::string state(ToString(m.state));
  if (state != r.state) r.history.push_back({state, by, now});
  r.state = state;
  r.reviews.assign(m.reviews.begin(), m.reviews.end());
  for (auto& f : r.files) {
    auto it = m.files.find(f.path);
    if (it == m.files.end()) continue;
    std::erase_if(f.votes, [&](const core::ReleaseVote& v) { return !it->second.votes.count(v.checker); });
  }
  std::erase_if(r.files, [&](const core::ReleaseFile& f) { return !m.files.count(f.path); });
}

Actor ActorOf(const core::ReleaseActor& who) {
  return Actor{who.user, who.role == core::Role::kChecker};
}

// A path as a job records it: relative, under output/, no `..`, no empty
// or `.` segments, printable. Anything else never reaches the file system.
Result<void> CheckPath(std::string_view path) {
  auto bad = [&](std::string why) {
    return core::InvalidArgument(StrCat("path ", core::Quote(path), " ", why), "path");
  };
  if (path.empty()) return bad("is empty");
  if (path.size() > 1024) return bad("is longer than 1024 characters");
  if (path.front() == '/') return bad("must be relative to the job's directory");
  for (char ch : path)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) return bad("has a control character");
  if (!path.starts_with("output/")) return bad("must be under output/");
  for (std::size_t from = 0; from <= path.size();) {
    std::size_t to = path.find('/', from);
    if (to == std::string_view::npos) to = path.size();
    std::string_view seg = path.substr(from, to - from);
    if (seg.empty() || seg == "." || seg == "..") return bad("has an empty, `.` or `..` segment");
    from = to + 1;
  }
  return {};
}

// Copies `src` (a regular file, never through a symlink) to `dir`/<sha256>
// while hashing it; refuses a copy whose hash is not `want_sha256` (the file
// changed after the job recorded it).
Result<std::int64_t> Freeze(const std::string& src, const std::string& dir,
                            const std::string& want_sha256, std::int64_t max_bytes) {
  int in = ::open(src.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) return Fail(ErrorCode::kFailedPrecondition, "the output is no longer in the job's directory");
  struct stat st {};
  if (::fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(in);
    return Fail(ErrorCode::kFailedPrecondition, "the output is not a regular file");
  }
  if (st.st_size > max_bytes) {
    ::close(in);
    return Fail(ErrorCode::kFailedPrecondition,
                StrCat("the output has ", st.st_size, " bytes; at most ", max_bytes, " can be released"));
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  static std::atomic<int> n{0};
  const std::string tmp = StrCat(dir, "/.add-", ::getpid(), "-", n++);
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
  if (out < 0) {
    ::close(in);
    return core::Internal(StrCat("cannot write in ", dir));
  }
  core::Sha256 h;
  std::string buf(64 << 10, '\0');
  std::int64_t total = 0;
  bool ok = true;
  for (;;) {
    ssize_t got = ::read(in, buf.data(), buf.size());
    if (got < 0) { ok = false; break; }
    if (got == 0) break;
    total += got;
    if (total > max_bytes) { ok = false; break; }
    h.Update(buf.data(), static_cast<std::size_t>(got));
    for (ssize_t off = 0; off < got;) {
      ssize_t w = ::write(out, buf.data() + off, static_cast<std::size_t>(got - off));
      if (w <= 0) { ok = false; break; }
      off += w;
    }
    if (!ok) break;
  }
  ::close(in);
  ok = ok && ::fsync(out) == 0;
  ok = ::close(out) == 0 && ok;
  const std::string sha = core::ToHex(h.Final());
  if (!ok) {
    std::filesystem::remove(tmp, ec);
    return core::Internal("the output could not be copied into the release area");
  }
  if (sha != want_sha256) {
    std::filesystem::remove(tmp, ec);
    return Fail(ErrorCode::kFailedPrecondition,
                "the output changed after its job recorded it (its SHA-256 differs); "
                "it cannot be released");
  }
  std::filesystem::rename(tmp, StrCat(dir, "/", sha), ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return core::Internal("the output could not be kept in the release area");
  }
  return total;
}

Result<std::string> ReadFrozen(const std::string& file, const std::string& sha256) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return core::Internal("the released copy is missing; tell the operators");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return core::Internal("the released copy cannot be read; tell the operators");
  if (core::Sha256Hex(bytes) != sha256)
    return core::Internal("the released copy no longer matches its SHA-256; tell the operators");
  return bytes;
}

}  // namespace

ReleaseDesk::ReleaseDesk(core::Store& store, const core::Clock& clock, ReleaseDeskOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

Result<bool> ReleaseDesk::IsMember(const core::ReleaseActor& who, std::string_view project) {
  auto projects = store_.ProjectsOf(who.user);
  if (!projects) return std::unexpected(projects.error());
  return std::find(projects->begin(), projects->end(), project) != projects->end();
}

Result<void> ReleaseDesk::OnPermit(const core::ReleaseActor& who, std::string_view project) {
  auto permits = store_.ListPermits(project);
  if (!permits) return std::unexpected(permits.error());
  const core::TimePoint now = clock_.Now();
  for (const auto& p : *permits)
    if (p.ValidAt(now) && std::find(p.persons.begin(), p.persons.end(), who.user) != p.persons.end())
      return {};
  return Fail(ErrorCode::kPermissionDenied,
              StrCat(who.user, " is not named on a valid permit of project ", project,
                     "; only the permit's persons may request a release"));
}

Result<core::Release> ReleaseDesk::Visible(const core::ReleaseActor& who, std::int64_t id) {
  auto r = store_.GetRelease(id);
  if (!r) return r;
  const bool sees_all = who.role == core::Role::kAdmin || who.role == core::Role::kSteward ||
                        who.role == core::Role::kAuditor;
  if (!sees_all) {
    auto member = IsMember(who, r->project);
    if (!member) return std::unexpected(member.error());
    if (!*member) return core::NotFound(StrCat("no release request ", id));
  }
  return r;
}

Result<core::Release> ReleaseDesk::Store(const core::ReleaseActor& who, core::Release after,
                                         std::string_view action, json payload) {
  const core::TimePoint now = clock_.Now();
  after.updated_at = now;
  core::Release stored;
  auto done = store_.Atomically([&]() -> Result<void> {
    auto r = store_.UpdateRelease(after);
    if (!r) return std::unexpected(r.error());
    stored = std::move(*r);
    payload["id"] = stored.id;
    payload["project"] = stored.project;
    payload["state"] = stored.state;
    auto a = store_.AppendAudit({who.user, std::string(action), StrCat("release/", stored.id), payload}, now);
    if (!a) return std::unexpected(a.error());
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return Redact(stored, who);
}

Result<core::Release> ReleaseDesk::Create(const core::ReleaseActor& who, std::string_view project,
                                          std::string_view context) {
  if (who.role != core::Role::kResearcher)
    return Fail(ErrorCode::kPermissionDenied, "only researchers request releases");
  auto member = IsMember(who, project);
  if (!member) return std::unexpected(member.error());
  if (!*member) return core::NotFound(StrCat("no project ", core::Quote(project)));
  if (auto ok = OnPermit(who, project); !ok) return std::unexpected(ok.error());
  const core::TimePoint now = clock_.Now();
  core::Release r;
  r.project = std::string(project);
  r.author = who.user;
  r.created_at = r.updated_at = now;
  r.groups["default"].context = std::string(context);
  r.history.push_back({"pending", who.user, now});
  core::Release stored;
  auto done = store_.Atomically([&]() -> Result<void> {
    auto c = store_.CreateRelease(r);
    if (!c) return std::unexpected(c.error());
    stored = std::move(*c);
    auto a = store_.AppendAudit({who.user, "release.created", StrCat("release/", stored.id),
                                 {{"id", stored.id}, {"project", stored.project}, {"state", "pending"}}},
                                now);
    if (!a) return std::unexpected(a.error());
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return stored;
}

Result<core::Release> ReleaseDesk::Add(const core::ReleaseActor& who, std::int64_t id,
                                       const core::AddReleaseFile& file) {
  auto r = Visible(who, id);
  if (!r) return r;
  if (auto ok = CheckPath(file.path); !ok) return std::unexpected(ok.error());
  if (file.group.empty() || file.group.size() > 100)
    return core::InvalidArgument("a group needs a name of 1 to 100 characters", "group");
  // The author and the state first, before any file work.
  if (auto dry = airlock::Apply(ToMachine(*r), ActorOf(who), {Move::Kind::kAddFile, file.path, "-"}); !dry)
    return std::unexpected(dry.error());
  if (auto ok = OnPermit(who, r->project); !ok) return std::unexpected(ok.error());

  auto job = store_.GetJob(core::JobId{file.job});
  if (!job || job->project != r->project)
    return core::NotFound(StrCat("no job ", file.job, " in project ", r->project));
  core::Job source = *job;
  if (job->status == core::StatusCode::kCached) {
    auto hit = store_.FindSucceededJob(job->project, job->cache_key);
    if (!hit) return std::unexpected(hit.error());
    if (!*hit) return Fail(ErrorCode::kFailedPrecondition, StrCat("job ", file.job, " reused outputs that are gone"));
    auto reused = store_.GetJob(**hit);
    if (!reused) return std::unexpected(reused.error());
    source = *reused;
  } else if (job->status != core::StatusCode::kSucceeded) {
    return Fail(ErrorCode::kFailedPrecondition,
                StrCat("job ", file.job, " is ", core::Name(job->status),
                       "; only outputs of succeeded jobs can be released"));
  }
  auto spec = core::ParseJobSpec(job->spec_json);
  auto result = core::ParseJobResult(source.result_json);
  if (!spec || !result) return core::Internal(StrCat("job ", file.job, "'s record cannot be read"));
  const core::OutputFile* out = nullptr;
  for (const auto& o : result->outputs)
    if (o.path == file.path) out = &o;
  if (!out) return core::NotFound(StrCat("job ", file.job, " has no output ", core::Quote(file.path)));
  const std::string level = spec->LevelOf(file.path);
  if (level != "releasable")
    return Fail(ErrorCode::kPermissionDenied,
                StrCat(core::Quote(file.path), " is a ", level.empty() ? "undeclared" : level,
                       " output; only outputs declared releasable in sluss.yaml can be requested"));
  if (!options_.job_dir) return Fail(ErrorCode::kUnavailable, "outputs are not available here");

  const std::string dir = StrCat(options_.release_dir, "/", r->id);
  auto size = Freeze(StrCat(options_.job_dir(source, source.attempt), "/outputs/", file.path), dir,
                     out->sha256, options_.params.max_file_bytes);
  if (!size) return std::unexpected(size.error());
  // The checks read the frozen copy: what the checkers see is what they checked.
  const core::OutputControls controls = spec->ControlsOf(file.path);
  FileCheck check(file.path, *size, controls, options_.params);
  {
    std::ifstream in(StrCat(dir, "/", out->sha256), std::ios::binary);
    std::string buf(64 << 10, '\0');
    while (check.wants_bytes() && in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      auto n = static_cast<std::size_t>(in.gcount());
      if (n == 0) break;
      check.Feed(std::string_view(buf.data(), n));
    }
  }
  const FileReport report = check.Finish();

  // Stored against the record as it is now; a concurrent change makes this kConflict.
  auto latest = store_.GetRelease(id);
  if (!latest) return latest;
  core::Release after = *latest;
  auto moved = airlock::Apply(ToMachine(after), ActorOf(who), {Move::Kind::kAddFile, file.path, out->sha256});
  if (!moved) return std::unexpected(moved.error());
  core::ReleaseFile* f = after.FindFile(file.path);
  if (!f) {
    after.files.push_back({});
    f = &after.files.back();
    f->path = file.path;
  }
  f->job = source.id.value;
  f->run = source.run_id.value;
  f->sha256 = out->sha256;
  f->size = *size;
  f->group = file.group;
  f->verdict = std::string(ToString(report.outcome));
  f->checks = ToJson(report, options_.params);
  if (!file.exception.empty() || f->verdict != "fail") f->exception = file.exception;
  f->added_at = clock_.Now();
  if (auto run = store_.GetRun(source.run_id); run) f->commit = run->commit;
  auto& g = after.groups[file.group];
  if (!file.context.empty()) g.context = file.context;
  if (!file.controls.empty()) g.controls = file.controls;
  FromMachine(*moved, after, who.user, clock_.Now());
  return Store(who, std::move(after), "release.file_added",
               {{"path", file.path}, {"sha256", out->sha256}, {"job", source.id.value},
                {"verdict", std::string(ToString(report.outcome))}});
}

Result<core::Release> ReleaseDesk::Apply(const core::ReleaseActor& who, std::int64_t id,
                                         const core::ReleaseMove& move) {
  auto r = Visible(who, id);
  if (!r) return r;
  const core::TimePoint now = clock_.Now();
  core::Release after = *r;
  Move m{Move::Kind::kSubmit};
  std::string action;
  json payload = json::object();
  const std::string& k = move.kind;
  if (k == "submit") {
    // Sent to the checkers only while the author may still see the data: a
    // revoked or expired permit stops the request here, as it stops adds.
    if (auto ok = OnPermit(who, after.project); !ok) return std::unexpected(ok.error());
    for (const auto& f : after.files)
      if (f.verdict == "fail" && f.exception.empty())
        return Fail(ErrorCode::kFailedPrecondition,
                    StrCat(core::Quote(f.path), " fails the automatic checks; add it again with a "
                           "written exception, or remove it"));
    m.kind = Move::Kind::kSubmit;
    action = "release.submitted";
  } else if (k == "withdraw") {
    m.kind = Move::Kind::kWithdraw;
    action = "release.withdrawn";
  } else if (k == "remove") {
    m = {Move::Kind::kRemoveFile, move.path};
    action = "release.file_removed";
  } else if (k == "approve" || k == "request_changes") {
    m = {Move::Kind::kVote, move.path, "", k == "approve" ? Vote::kApprove : Vote::kRequestChanges, move.comment};
    action = "release.vote";
    payload["vote"] = k;
  } else if (k == "submit_review") {
    m.kind = Move::Kind::kSubmitReview;
    action = "release.review_submitted";
  } else if (k == "return") {
    m = {Move::Kind::kReturn, "", "", Vote::kApprove, move.comment};
    action = "release.returned";
  } else if (k == "reject") {
    if (move.comment.empty()) return core::InvalidArgument("rejecting needs a comment for the author", "comment");
    m.kind = Move::Kind::kReject;
    action = "release.rejected";
  } else if (k == "approve_request") {
    m.kind = Move::Kind::kApprove;
    action = "release.approved";
  } else if (k == "release") {
    m.kind = Move::Kind::kRelease;
    action = "release.released";
  } else {
    return core::InvalidArgument(StrCat("unknown move ", core::Quote(k)), "move");
  }
  if (!move.path.empty()) payload["path"] = move.path;
  if (move.comment.size() > 10000) return core::InvalidArgument("a comment has at most 10000 characters", "comment");
  if (core::FindInvalidUtf8(move.comment) != std::string_view::npos)
    return core::InvalidArgument("a comment must be UTF-8", "comment");
  auto moved = airlock::Apply(ToMachine(after), ActorOf(who), m);
  if (!moved) return std::unexpected(moved.error());
  if (m.kind == Move::Kind::kVote) {
    core::ReleaseFile* f = after.FindFile(move.path);
    std::erase_if(f->votes, [&](const core::ReleaseVote& v) { return v.checker == who.user; });
    f->votes.push_back({who.user, std::string(VoteName(m.vote)), move.comment, now});
    if (!move.comment.empty()) after.comments.push_back({who.user, move.path, move.comment, "vote", "checkers", now});
  }
  if (m.kind == Move::Kind::kReturn || m.kind == Move::Kind::kReject) {
    // The checkers' comments go to the author with the decision.
    for (auto& c : after.comments) c.visibility = "public";
    after.comments.push_back({who.user, "", move.comment, k, "public", now});
  }
  FromMachine(*moved, after, who.user, now);
  return Store(who, std::move(after), action, std::move(payload));
}

Result<core::Release> ReleaseDesk::Get(const core::ReleaseActor& who, std::int64_t id) {
  auto r = Visible(who, id);
  if (!r) return r;
  return Redact(*r, who);
}

Result<std::vector<core::Release>> ReleaseDesk::List(const core::ReleaseActor& who,
                                                     std::string_view project) {
  auto all = store_.ListReleases(project, "");
  if (!all) return all;
  const bool sees_all = who.role == core::Role::kAdmin || who.role == core::Role::kSteward ||
                        who.role == core::Role::kAuditor;
  auto mine = store_.ProjectsOf(who.user);
  if (!mine) return std::unexpected(mine.error());
  std::vector<core::Release> out;
  for (const auto& r : *all)
    if (sees_all || std::find(mine->begin(), mine->end(), r.project) != mine->end())
      out.push_back(Redact(r, who));
  return out;
}

Result<core::ReleaseDownload> ReleaseDesk::Download(const core::ReleaseActor& who, std::int64_t id,
                                                    std::string_view path) {
  auto r = Visible(who, id);
  if (!r) return std::unexpected(r.error());
  // A checker (a member, or Visible said 404) reads the frozen copies of a
  // request under review, never their own: the bytes they vote on.
  const bool reviewing = who.role == core::Role::kChecker && who.user != r->author &&
                         (r->state == "submitted" || r->state == "partially_reviewed" ||
                          r->state == "reviewed" || r->state == "approved");
  if (!reviewing) {
    auto member = IsMember(who, r->project);
    if (!member) return std::unexpected(member.error());
    if (!*member)
      return Fail(ErrorCode::kPermissionDenied,
                  StrCat("only members of project ", r->project, " download its released files"));
    if (r->state != "released")
      return Fail(ErrorCode::kFailedPrecondition,
                  StrCat("release request ", id, " is ", r->state,
                         "; files can be downloaded once it is released"));
  }
  const core::ReleaseFile* f = r->FindFile(path);
  if (!f) return core::NotFound(StrCat("release request ", id, " has no file ", core::Quote(path)));
  auto bytes = ReadFrozen(StrCat(options_.release_dir, "/", id, "/", f->sha256), f->sha256);
  if (!bytes) return std::unexpected(bytes.error());
  auto a = store_.AppendAudit({who.user, reviewing ? "release.review_read" : "release.download",
                               StrCat("release/", id),
                               {{"id", id}, {"project", r->project}, {"path", f->path},
                                {"sha256", f->sha256}, {"size", f->size}}},
                              clock_.Now());
  if (!a) return Fail(ErrorCode::kUnavailable, "the audit log cannot be written; try again");
  return core::ReleaseDownload{f->path, f->sha256, std::move(*bytes)};
}

core::Release ReleaseDesk::Redact(const core::Release& r, const core::ReleaseActor& who) {
  core::Release v = r;
  const bool checker = who.role == core::Role::kChecker && who.user != r.author;
  const bool both_in = r.state == "reviewed" || r.state == "approved" || r.state == "released" ||
                       r.state == "rejected" || r.state == "returned";
  const bool decided = r.state == "returned" || r.state == "rejected" || r.state == "approved" ||
                       r.state == "released";
  for (auto& f : v.files) {
    if (checker && !both_in) {
      // Blind until both reviews are in: a checker sees their own votes only.
      std::erase_if(f.votes, [&](const core::ReleaseVote& x) { return x.checker != who.user; });
    } else if (!checker && !decided) {
      f.votes.clear();
    }
  }
  std::erase_if(v.comments, [&](const core::ReleaseComment& c) {
    if (c.visibility == "public") return false;
    if (!checker) return true;
    return !both_in && c.author != who.user;
  });
  if (!checker) {
    // The column summaries are the job's data, for the checkers only.
    for (auto& f : v.files) f.checks = WithoutSummaries(std::move(f.checks));
    // Who the checkers were stays with the checkers until the decision.
    for (auto& f : v.files)
      for (auto& x : f.votes) x.comment = decided ? x.comment : "";
    if (!decided) v.reviews.clear();
  }
  return v;
}

}  // namespace sluss::airlock
