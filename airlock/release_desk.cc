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
#include "core/job_state.h"
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

// A copy in the release area under a temporary name, removed when the
// object goes unless Keep() moved it to its content's name.
class Staged {
 public:
  Staged() = default;
  Staged(const Staged&) = delete;
  Staged& operator=(const Staged&) = delete;
  ~Staged() {
    std::error_code ec;
    if (!tmp.empty()) std::filesystem::remove(tmp, ec);
  }
  // Moves the copy to `<dir>/<sha256>` (a rename: no bytes are copied).
  // `*created` tells whether no copy of the same content was there before.
  Result<void> Keep(bool* created) {
    const std::string final_name = StrCat(dir, "/", sha256);
    std::error_code ec;
    *created = !std::filesystem::exists(final_name, ec);
    std::filesystem::rename(tmp, final_name, ec);
    if (ec) return core::Internal("the output could not be kept in the release area");
    tmp.clear();
    return {};
  }
  std::string dir, tmp, sha256;
  std::int64_t size = 0;
};

// Copies `srcs` (regular files, never through a symlink; a log's segments
// in order) as one file to a temporary name in `staged.dir` while hashing
// it; refuses a copy whose hash is not `want_sha256` when that is given (the
// file changed after the job recorded it). Runs with no lock of the
// store held: a copy of 64 MiB blocks no other request.
Result<void> Freeze(const std::vector<std::string>& srcs, const std::string& want_sha256,
                    std::int64_t max_bytes, const std::function<void()>& while_copying,
                    Staged& staged) {
  std::vector<int> ins;
  auto close_all = [&] {
    for (int fd : ins) ::close(fd);
    ins.clear();
  };
  std::int64_t expected = 0;
  for (const auto& src : srcs) {
    int in = ::open(src.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) {
      close_all();
      return Fail(ErrorCode::kFailedPrecondition, "the file is no longer in the job's directory");
    }
    ins.push_back(in);
    struct stat st {};
    if (::fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
      close_all();
      return Fail(ErrorCode::kFailedPrecondition, "the file is not a regular file");
    }
    expected += st.st_size;
  }
  if (expected > max_bytes) {
    close_all();
    return Fail(ErrorCode::kFailedPrecondition,
                StrCat("the file has ", expected, " bytes; at most ", max_bytes, " can be released"));
  }
  std::error_code ec;
  std::filesystem::create_directories(staged.dir, ec);
  static std::atomic<int> n{0};
  const std::string tmp = StrCat(staged.dir, "/.add-", ::getpid(), "-", n++);
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
  if (out < 0) {
    close_all();
    return core::Internal(StrCat("cannot write in ", staged.dir));
  }
  staged.tmp = tmp;
  core::Sha256 h;
  std::string buf(64 << 10, '\0');
  std::int64_t total = 0;
  bool ok = true;
  bool called = false;
  for (std::size_t i = 0; ok && i < ins.size();) {
    ssize_t got = ::read(ins[i], buf.data(), buf.size());
    if (got < 0) { ok = false; break; }
    if (got == 0) {
      ++i;
      continue;
    }
    total += got;
    if (total > max_bytes) { ok = false; break; }
    h.Update(buf.data(), static_cast<std::size_t>(got));
    for (ssize_t off = 0; off < got;) {
      ssize_t w = ::write(out, buf.data() + off, static_cast<std::size_t>(got - off));
      if (w <= 0) { ok = false; break; }
      off += w;
    }
    if (!ok) break;
    if (while_copying && !called) {
      called = true;
      while_copying();
    }
  }
  close_all();
  ok = ok && ::fsync(out) == 0;
  ok = ::close(out) == 0 && ok;
  const std::string sha = core::ToHex(h.Final());
  if (!ok) return core::Internal("the output could not be copied into the release area");
  if (!want_sha256.empty() && sha != want_sha256) {
    return Fail(ErrorCode::kFailedPrecondition,
                "the output changed after its job recorded it (its SHA-256 differs); "
                "it cannot be released");
  }
  staged.sha256 = sha;
  staged.size = total;
  return {};
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

namespace {

std::string ChecksKey(std::string_view permit) { return StrCat("checks/permit/", permit); }

// The stored setting {"checks", "set_by", "set_at"}; an empty object when
// none was set.
Result<json> StoredChecks(core::Store& store, std::string_view permit) {
  auto v = store.GetSetting(ChecksKey(permit));
  if (!v) {
    if (v.error().code == ErrorCode::kNotFound) return json::object();
    return std::unexpected(v.error());
  }
  json j = json::parse(*v, nullptr, false);
  if (!j.is_object() || !j.contains("checks"))
    return core::Internal(StrCat("the checks set for permit ", permit, " cannot be read"));
  return j;
}

// The parameter a finding's rule applies, in EffectiveChecks::sources.
const char* ParameterOf(std::string_view rule) {
  if (rule == "threshold") return "threshold";
  if (rule == "rounding") return "round";
  if (rule == "zero") return "zeros";
  if (rule == "size") return "max_file_bytes";
  if (rule == "file_type") return "allowed_types";
  return nullptr;
}

// The stored report of a file's checks: the checks' own, with the
// controls applied and who set each parameter, each finding naming it.
json ReportOf(const FileReport& report, const EffectiveChecks& eff) {
  json j = ToJson(report, eff.params);
  json controls = {{"counts", eff.controls.counts}, {"round", eff.controls.round},
                   {"zeros_disclosive", eff.controls.zeros_disclosive.value_or(eff.params.zeros_disclosive)}};
  j["controls"] = std::move(controls);
  j["sources"] = eff.sources;
  for (auto& f : j["findings"]) {
    const char* param = ParameterOf(f.value("rule", ""));
    if (!param || !eff.sources.count(param)) continue;
    f["source"] = eff.sources.at(param);
    f["message"] = StrCat(f["message"].get<std::string>(), " (", param, " set by ", eff.sources.at(param), ")");
  }
  return j;
}

}  // namespace

Result<std::map<std::string, StewardChecks>> StewardChecksOf(core::Store& store,
                                                             std::string_view project,
                                                             std::string_view user,
                                                             core::TimePoint now) {
  auto permits = store.ListPermits(project);
  if (!permits) return std::unexpected(permits.error());
  std::map<std::string, StewardChecks> out;
  for (const auto& p : *permits) {
    if (!p.ValidAt(now)) continue;
    if (!user.empty() && std::find(p.persons.begin(), p.persons.end(), user) == p.persons.end()) continue;
    auto stored = StoredChecks(store, p.id);
    if (!stored) return std::unexpected(stored.error());
    if (stored->empty()) continue;
    auto c = StewardChecksFromJson((*stored)["checks"]);
    if (!c) return core::Internal(StrCat("the checks set for permit ", p.id, " cannot be read"));
    out[p.id] = std::move(*c);
  }
  return out;
}

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
                                       const core::AddReleaseFile& request) {
  core::AddReleaseFile file = request;
  const bool is_log = !file.log.empty();
  if (is_log) {
    if (file.log != "stdout" && file.log != "stderr")
      return core::InvalidArgument("a log is stdout or stderr", "log");
    if (!file.path.empty()) return core::InvalidArgument("give a path or a log, not both", "path");
    // The log's name in the request: never under output/, so never an output's.
    file.path = StrCat("log/job-", file.job, "/", file.log, ".log");
  }
  auto r = Visible(who, id);
  if (!r) return r;
  if (!is_log)
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
  auto spec = core::ParseJobSpec(job->spec_json);
  if (!spec) return core::Internal(StrCat("job ", file.job, "'s record cannot be read"));
  std::vector<std::string> sources;  // the bytes to freeze, in order
  std::string want_sha256;           // the job's record of them; empty for a log
  core::OutputControls declared;
  if (is_log) {
    // A log is whole only once its attempt has ended; a running job's grows.
    if (!core::IsTerminal(job->status))
      return Fail(ErrorCode::kFailedPrecondition,
                  StrCat("job ", file.job, " is ", core::Name(job->status),
                         "; its log can be requested once it has ended"));
    if (job->status == core::StatusCode::kCached)
      return Fail(ErrorCode::kFailedPrecondition,
                  StrCat("job ", file.job, " reused another job's outputs and wrote no log; "
                         "request the log of the job that made them"));
    if (!options_.log_files) return Fail(ErrorCode::kUnavailable, "logs are not available here");
    sources = options_.log_files(source, source.attempt, file.log);
    if (sources.empty())
      return core::NotFound(StrCat("job ", file.job, " has no ", file.log, " log"));
  } else {
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
    auto result = core::ParseJobResult(source.result_json);
    if (!result) return core::Internal(StrCat("job ", file.job, "'s record cannot be read"));
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
    sources = {StrCat(options_.job_dir(source, source.attempt), "/outputs/", file.path)};
    want_sha256 = out->sha256;
    declared = spec->ControlsOf(file.path);
  }
  // The steward's parameters for this author's permits, tightened by what
  // sluss.yaml declared; a looser declaration is refused here.
  auto stewards = StewardChecksOf(store_, r->project, who.user, clock_.Now());
  if (!stewards) return std::unexpected(stewards.error());
  auto eff = Resolve(options_.params, *stewards, file.path, declared);
  if (!eff) return std::unexpected(eff.error());

  // Copied, hashed and checked first, with no lock of the store held; then
  // one short transaction records it against the request as it is then.
  Staged staged;
  staged.dir = StrCat(options_.release_dir, "/", r->id);
  if (auto ok = Freeze(sources, want_sha256, options_.params.max_file_bytes, options_.while_copying, staged);
      !ok)
    return std::unexpected(ok.error());
  // The checks read the frozen copy: what the checkers see is what they checked.
  FileCheck check(file.path, staged.size, eff->controls, eff->params);
  {
    std::ifstream in(staged.tmp, std::ios::binary);
    std::string buf(64 << 10, '\0');
    while (check.wants_bytes() && in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      auto n = static_cast<std::size_t>(in.gcount());
      if (n == 0) break;
      check.Feed(std::string_view(buf.data(), n));
    }
  }
  const FileReport report = check.Finish();
  const std::string verdict(ToString(report.outcome));
  const std::string commit = [&] {
    auto run = store_.GetRun(source.run_id);
    return run ? run->commit : std::string();
  }();

  const core::TimePoint now = clock_.Now();
  core::Release stored;
  bool created = false;
  auto done = store_.Atomically([&]() -> Result<void> {
    // The request and the job's record as they are now: a request withdrawn
    // or submitted meanwhile refuses the file; so does a changed record.
    auto latest = store_.GetRelease(id);
    if (!latest) return std::unexpected(latest.error());
    auto recorded = store_.GetJob(source.id);
    if (!recorded) return std::unexpected(recorded.error());
    auto now_result = core::ParseJobResult(recorded->result_json);
    bool same = is_log;  // a log has no record but its frozen copy
    if (now_result && !is_log)
      for (const auto& o : now_result->outputs) same = same || (o.path == file.path && o.sha256 == staged.sha256);
    if (!same)
      return Fail(ErrorCode::kFailedPrecondition,
                  StrCat("job ", source.id.value, "'s record of ", core::Quote(file.path),
                         " changed while it was copied; it cannot be released"));
    core::Release after = *latest;
    auto moved = airlock::Apply(ToMachine(after), ActorOf(who), {Move::Kind::kAddFile, file.path, staged.sha256});
    if (!moved) return std::unexpected(moved.error());
    core::ReleaseFile* f = after.FindFile(file.path);
    if (!f) {
      after.files.push_back({});
      f = &after.files.back();
      f->path = file.path;
    }
    f->job = source.id.value;
    f->run = source.run_id.value;
    f->sha256 = staged.sha256;
    f->size = staged.size;
    f->group = file.group;
    f->verdict = verdict;
    f->checks = ReportOf(report, *eff);
    if (!file.exception.empty() || f->verdict != "fail") f->exception = file.exception;
    f->added_at = now;
    f->commit = commit;
    auto& g = after.groups[file.group];
    if (!file.context.empty()) g.context = file.context;
    if (!file.controls.empty()) g.controls = file.controls;
    FromMachine(*moved, after, who.user, now);
    after.updated_at = now;
    auto u = store_.UpdateRelease(after);
    if (!u) return std::unexpected(u.error());
    stored = std::move(*u);
    auto audit = store_.AppendAudit(
        {who.user, "release.file_added", StrCat("release/", stored.id),
         {{"id", stored.id}, {"project", stored.project}, {"state", stored.state},
          {"path", file.path}, {"sha256", staged.sha256}, {"job", source.id.value},
          {"verdict", verdict}, {"kind", is_log ? "log" : "output"}}},
        now);
    if (!audit) return std::unexpected(audit.error());
    // Last, so that nothing after it can fail: the copy takes its name.
    return staged.Keep(&created);
  });
  if (!done) {
    // Refused or not stored: the copy goes (unless an earlier add of the
    // same bytes to this request owns the name).
    std::error_code ec;
    if (created) std::filesystem::remove(StrCat(staged.dir, "/", staged.sha256), ec);
    return std::unexpected(done.error());
  }
  return Redact(stored, who);
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
  auto member = IsMember(who, r->project);
  if (!member) return std::unexpected(member.error());
  if (!*member)
    return Fail(ErrorCode::kPermissionDenied,
                StrCat("only members of project ", r->project, " download its released files"));
  // Checkers read what they review, whole; everyone else waits for the release.
  const bool reviewing = who.role == core::Role::kChecker && who.user != r->author &&
                         (r->state == "submitted" || r->state == "partially_reviewed" ||
                          r->state == "reviewed" || r->state == "approved");
  if (r->state != "released" && !reviewing)
    return Fail(ErrorCode::kFailedPrecondition,
                StrCat("release request ", id, " is ", r->state, "; files can be downloaded once it is released"));
  const core::ReleaseFile* f = r->FindFile(path);
  if (!f) return core::NotFound(StrCat("release request ", id, " has no file ", core::Quote(path)));
  auto bytes = ReadFrozen(StrCat(options_.release_dir, "/", id, "/", f->sha256), f->sha256);
  if (!bytes) return std::unexpected(bytes.error());
  auto a = store_.AppendAudit({who.user, r->state == "released" ? "release.download" : "release.review_read",
                               StrCat("release/", id),
                               {{"id", id}, {"project", r->project}, {"path", f->path},
                                {"sha256", f->sha256}, {"size", f->size}}},
                              clock_.Now());
  if (!a) return Fail(ErrorCode::kUnavailable, "the audit log cannot be written; try again");
  return core::ReleaseDownload{f->path, f->sha256, std::move(*bytes)};
}

Result<json> ReleaseDesk::GetChecks(const core::ReleaseActor& who, std::string_view permit) {
  (void)who;  // the caller checked that `who` may see the permit
  auto p = store_.GetPermit(permit);
  if (!p) return std::unexpected(p.error());
  auto stored = StoredChecks(store_, p->id);
  if (!stored) return std::unexpected(stored.error());
  json out = {{"permit", p->id}, {"project", p->project}, {"checks", json::object()}};
  std::map<std::string, StewardChecks> mine;
  if (!stored->empty()) {
    out["checks"] = (*stored)["checks"];
    out["set_by"] = stored->value("set_by", "");
    out["set_at"] = stored->value("set_at", "");
    auto c = StewardChecksFromJson((*stored)["checks"]);
    if (!c) return core::Internal(StrCat("the checks set for permit ", p->id, " cannot be read"));
    mine[p->id] = std::move(*c);
  }
  auto eff = Resolve(options_.params, mine, "", {});
  if (!eff) return std::unexpected(eff.error());
  out["effective"] = {{"threshold", eff->params.threshold},
                      {"round", eff->controls.round},
                      {"zeros_allowed", !eff->params.zeros_disclosive},
                      {"max_file_bytes", eff->params.max_file_bytes},
                      {"allowed_types", eff->params.allowed_types},
                      {"sources", eff->sources}};
  return out;
}

Result<json> ReleaseDesk::SetChecks(const core::ReleaseActor& who, std::string_view permit,
                                    const json& checks) {
  if (who.role != core::Role::kSteward)
    return Fail(ErrorCode::kPermissionDenied, "only data stewards set a permit's checks");
  auto p = store_.GetPermit(permit);
  if (!p) return std::unexpected(p.error());
  if (p->granted_by != who.user)
    return Fail(ErrorCode::kPermissionDenied,
                StrCat("permit ", p->id, " was granted by ", p->granted_by,
                       "; only that steward sets its checks"));
  if (p->revoked_at) return Fail(ErrorCode::kFailedPrecondition, StrCat("permit ", p->id, " is revoked"));
  auto c = StewardChecksFromJson(checks);
  if (!c) return std::unexpected(c.error());
  const core::TimePoint now = clock_.Now();
  auto done = store_.Atomically([&]() -> Result<void> {
    auto before = StoredChecks(store_, p->id);
    if (!before) return std::unexpected(before.error());
    json stored = {{"checks", ToJson(*c)}, {"set_by", who.user}, {"set_at", core::FormatRfc3339(now)}};
    if (auto put = store_.PutSetting(ChecksKey(p->id), stored.dump(), now); !put)
      return std::unexpected(put.error());
    auto a = store_.AppendAudit(
        {who.user, "permit.checks_set", StrCat("permit/", p->id),
         {{"permit", p->id}, {"project", p->project},
          {"before", before->empty() ? json::object() : (*before)["checks"]}, {"after", ToJson(*c)}}},
        now);
    if (!a) return std::unexpected(a.error());
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return GetChecks(who, permit);
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
