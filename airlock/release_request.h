#pragma once

// A release request's states and who may move it, as a pure function: a
// request and a move in, the request after it or the reason it is refused.
// No I/O, no clock; the store persists what this returns.
//
// Modelled on OpenSAFELY Airlock's workflow, with SATRE's rule that humans
// decide:
//
//   pending ──submit──> submitted ──review──> partially_reviewed ──review──> reviewed
//      │ ^                  │                        │                        │ │ │
//      │ └─── (author) ─ returned <─────── return ───┴────────────────────────┘ │ │
//      │                    │                                                  │ │
//   withdraw             withdraw                              reject <────────┘ │
//      v                    v                                                    │
//   withdrawn (final)                       approved <─────── approve ───────────┘
//                                              │
//                                           release ──> released (final)
//
// - The author (the request's creator) adds and changes files, submits,
//   resubmits and withdraws, only while the request is pending or returned.
// - Checkers (the `checker` role) vote per file, submit their review, return,
//   reject, approve and release; never on a request of their own.
// - Each checker's review is independent: a review is submitted once, with
//   a vote on every file; the second submitted review makes it `reviewed`.
//   A third checker may still vote and submit while it is reviewed (to break
//   a tie).
// - A file is approved with at least two approvals and more approvals than
//   requests for changes; `approve` needs every file approved.
// - A file added again with different content (SHA-256) loses its votes.
// - Requesting changes and returning need a comment.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace sluss::airlock {

enum class RequestState {
  kPending, kSubmitted, kPartiallyReviewed, kReviewed, kApproved,
  kReleased, kReturned, kRejected, kWithdrawn,
};
std::string_view ToString(RequestState state);
bool IsFinal(RequestState state);

enum class Vote { kApprove, kRequestChanges };

struct RequestFile {
  std::string sha256;
  std::map<std::string, Vote> votes;  // by checker
};

struct ReleaseRequest {
  std::string author;
  RequestState state = RequestState::kPending;
  std::map<std::string, RequestFile> files;  // by path
  std::set<std::string> reviews;             // checkers who submitted this round
};

struct Actor {
  std::string person;
  bool checker = false;  // holds the `checker` role
};

struct Move {
  enum class Kind {
    kAddFile,      // path, sha256
    kRemoveFile,   // path
    kSubmit,
    kWithdraw,
    kVote,         // path, vote, comment (needed for changes)
    kSubmitReview,
    kReturn,       // comment
    kReject,
    kApprove,
    kRelease,
  };
  Kind kind;
  std::string path;
  std::string sha256;
  Vote vote = Vote::kApprove;
  std::string comment;
};

// A file's decision from its votes: approved (>= 2 approvals and more
// approvals than requests for changes), conflicted, or undecided.
enum class FileDecision { kUndecided, kApproved, kConflicted, kChangesRequested };
FileDecision DecisionOf(const RequestFile& file);

// The request after `who` makes `move`, or kPermissionDenied (wrong person
// or role) / kFailedPrecondition (wrong state, or a rule unmet) with a
// sentence that says why.
core::Result<ReleaseRequest> Apply(const ReleaseRequest& request, const Actor& who,
                                   const Move& move);

}  // namespace sluss::airlock
