#pragma once

// A release request as stored and shown: the record that the airlock
// (airlock/release_desk.h) keeps through the Store, with one ToJson and one
// FromJson. The moves between states are airlock/release_request.h's.
//
// Files are frozen at request time: `sha256` is the content the checkers
// see and the members download, kept by slussd under its state directory
// by that hash, never read again from the job's live outputs.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/time.h"
#include "core/types.h"

namespace sluss::core {

struct ReleaseVote {
  std::string checker;
  std::string vote;     // "approve" or "request_changes"
  std::string comment;  // private to checkers until the request is returned
  TimePoint at;
};

struct ReleaseFile {
  std::string path;  // "output/table1.csv", as the job recorded it
  std::int64_t job = 0;       // the job that made it (a cached job's source)
  std::int64_t run = 0;
  std::string commit;
  std::string sha256;
  std::int64_t size = 0;
  std::string group;          // the request's group it belongs to
  std::string verdict;        // the automatic checks: pass, review or fail
  nlohmann::json checks = nlohmann::json::object();  // their report
  std::string exception;      // the author's written exception for a fail
  std::vector<ReleaseVote> votes;  // this round's, one per checker
  TimePoint added_at;
};

// Files that share their context and the disclosure controls applied.
struct ReleaseGroup {
  std::string context;   // what the files are, for the checkers
  std::string controls;  // what was done to them: suppression, rounding...
};

struct ReleaseComment {
  std::string author;
  std::string path;    // "" for the whole request
  std::string text;
  std::string kind;    // "vote", "return", "reject"
  std::string visibility = "checkers";  // "checkers" or "public"
  TimePoint at;
};

struct ReleaseEvent {  // each move of the request's state, for its history
  std::string state;   // the state it moved to
  std::string by;
  TimePoint at;
};

struct Release {
  std::int64_t id = 0;
  std::string project;
  std::string author;
  std::string state = "pending";
  std::int64_t version = 0;  // bumped by every stored change
  TimePoint created_at;
  TimePoint updated_at;
  std::vector<ReleaseFile> files;
  std::map<std::string, ReleaseGroup> groups;
  std::vector<std::string> reviews;  // checkers who submitted this round
  std::vector<ReleaseComment> comments;
  std::vector<ReleaseEvent> history;

  ReleaseFile* FindFile(std::string_view path);
  const ReleaseFile* FindFile(std::string_view path) const;
};

// Pending, submitted, partially reviewed, reviewed, approved or returned:
// a person has at most one such request per project.
bool IsOpenReleaseState(std::string_view state);

nlohmann::json ToJson(const Release& r);
// kInvalidArgument naming the field.
Result<Release> ReleaseFromJson(const nlohmann::json& j);

// The airlock as the API sees it (airlock/release_desk.h implements it).
// Every call is made for `who`; refusals are values: kPermissionDenied
// (wrong person or role), kFailedPrecondition (wrong state, or a rule
// unmet), kNotFound (no such request, or one `who` may not see),
// kInvalidArgument naming the field, kAlreadyExists (an open request
// exists), kConflict (changed concurrently; retry). Every change appends
// its audit record in the same transaction.
struct ReleaseActor {
  std::string user;
  Role role = Role::kResearcher;
};

struct AddReleaseFile {
  std::int64_t job = 0;
  std::string path;
  std::string group = "default";
  std::string context;    // sets the group's context when not empty
  std::string controls;   // sets the group's controls when not empty
  std::string exception;  // the written exception a failing file needs
  // "stdout" or "stderr": the job's full log instead of an output (`path`
  // empty); it is named `log/job-<job>/<log>.log` in the request.
  std::string log;
};

struct ReleaseMove {
  // submit, withdraw, remove (path), approve (path), request_changes (path,
  // comment), submit_review, return (comment), reject (comment),
  // approve_request, release
  std::string kind;
  std::string path;
  std::string comment;
};

struct ReleaseDownload {
  std::string path;
  std::string sha256;
  std::string bytes;
};

class ReleaseService {
 public:
  virtual ~ReleaseService() = default;
  virtual Result<Release> Create(const ReleaseActor& who, std::string_view project,
                                 std::string_view context) = 0;
  virtual Result<Release> Add(const ReleaseActor& who, std::int64_t id,
                              const AddReleaseFile& file) = 0;
  virtual Result<Release> Apply(const ReleaseActor& who, std::int64_t id,
                                const ReleaseMove& move) = 0;
  // As `who` may see it: votes and checkers' comments are hidden from the
  // author until the request is returned or decided, and from each checker
  // the other checkers' votes until two reviews are in.
  virtual Result<Release> Get(const ReleaseActor& who, std::int64_t id) = 0;
  // The requests of the projects `who` may see (empty: all of them), newest
  // first.
  virtual Result<std::vector<Release>> List(const ReleaseActor& who,
                                            std::string_view project) = 0;
  // A released file's frozen bytes, for a member of the project; audited
  // as release.download. A checker who is a member (not the author) reads
  // them while the request is under review, audited as release.review_read.
  virtual Result<ReleaseDownload> Download(const ReleaseActor& who, std::int64_t id,
                                           std::string_view path) = 0;
  // The disclosure checks' parameters a data steward set for the requests
  // of a permit's persons: {"permit", "project", "checks": {threshold,
  // round, zeros_allowed, max_file_bytes, allowed_types} (only those set),
  // "set_by", "set_at", "effective": {each parameter's value and
  // "sources"}}. The caller checks that `who` may see the permit.
  virtual Result<nlohmann::json> GetChecks(const ReleaseActor& who, std::string_view permit) = 0;
  // Replaces them (an empty object: the defaults again). Only the steward
  // who granted the permit sets them, within the checks' bounds
  // (kInvalidArgument naming the field); audited as permit.checks_set with
  // the values before and after.
  virtual Result<nlohmann::json> SetChecks(const ReleaseActor& who, std::string_view permit,
                                           const nlohmann::json& checks) = 0;
};

}  // namespace sluss::core
