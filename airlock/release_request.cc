#include "airlock/release_request.h"

#include "core/strings.h"

namespace sluss::airlock {

using core::ErrorCode;
using core::StrCat;
using Kind = Move::Kind;
using S = RequestState;

std::string_view ToString(RequestState s) {
  switch (s) {
    case S::kPending: return "pending";
    case S::kSubmitted: return "submitted";
    case S::kPartiallyReviewed: return "partially_reviewed";
    case S::kReviewed: return "reviewed";
    case S::kApproved: return "approved";
    case S::kReleased: return "released";
    case S::kReturned: return "returned";
    case S::kRejected: return "rejected";
    case S::kWithdrawn: return "withdrawn";
  }
  return "pending";
}

bool IsFinal(RequestState s) {
  return s == S::kReleased || s == S::kRejected || s == S::kWithdrawn;
}

FileDecision DecisionOf(const RequestFile& f) {
  int approve = 0, changes = 0;
  for (const auto& [checker, v] : f.votes) (v == Vote::kApprove ? approve : changes)++;
  if (approve >= 2 && approve > changes) return FileDecision::kApproved;
  if (approve > 0 && changes > 0) return FileDecision::kConflicted;
  if (changes >= 2) return FileDecision::kChangesRequested;
  return FileDecision::kUndecided;
}

namespace {

std::unexpected<core::Error> Denied(std::string why) {
  return core::Fail(ErrorCode::kPermissionDenied, std::move(why));
}
std::unexpected<core::Error> Refused(std::string why) {
  return core::Fail(ErrorCode::kFailedPrecondition, std::move(why));
}

bool AuthorsTurn(S s) { return s == S::kPending || s == S::kReturned; }
bool UnderReview(S s) {
  return s == S::kSubmitted || s == S::kPartiallyReviewed || s == S::kReviewed;
}

}  // namespace

core::Result<ReleaseRequest> Apply(const ReleaseRequest& request, const Actor& who,
                                   const Move& move) {
  ReleaseRequest r = request;
  const bool author = who.person == r.author;
  const std::string state(ToString(r.state));
  if (IsFinal(r.state)) return Refused(StrCat("the request is ", state, "; nothing more can change"));

  switch (move.kind) {
    case Kind::kAddFile:
    case Kind::kRemoveFile:
    case Kind::kSubmit:
    case Kind::kWithdraw: {
      if (!author) return Denied("only the request's author can do this");
      if (!AuthorsTurn(r.state))
        return Refused(StrCat("the request is ", state, "; the author can change it only while "
                              "it is pending or returned"));
      if (move.kind == Kind::kAddFile) {
        if (move.path.empty() || move.sha256.empty())
          return core::InvalidArgument("a file needs its path and SHA-256");
        auto& f = r.files[move.path];
        if (f.sha256 != move.sha256) {
          f.sha256 = move.sha256;
          f.votes.clear();  // a changed file is a new file to its checkers
        }
      } else if (move.kind == Kind::kRemoveFile) {
        if (r.files.erase(move.path) == 0)
          return Refused(StrCat("the request has no file ", core::Quote(move.path)));
      } else if (move.kind == Kind::kSubmit) {
        if (r.files.empty()) return Refused("the request has no files; add one first");
        r.state = S::kSubmitted;
        r.reviews.clear();  // each round of review is independent
      } else {
        r.state = S::kWithdrawn;
      }
      return r;
    }
    case Kind::kVote:
    case Kind::kSubmitReview:
    case Kind::kReturn:
    case Kind::kReject:
    case Kind::kApprove:
    case Kind::kRelease:
      break;
  }

  if (!who.checker) return Denied("only output checkers can do this");
  if (author) return Denied("checkers never review their own request");

  switch (move.kind) {
    case Kind::kVote: {
      if (!UnderReview(r.state)) return Refused(StrCat("the request is ", state, "; it is not under review"));
      if (r.state != S::kReviewed && r.reviews.count(who.person))
        return Refused("your review is submitted; votes can change once both reviews are in");
      auto it = r.files.find(move.path);
      if (it == r.files.end()) return Refused(StrCat("the request has no file ", core::Quote(move.path)));
      if (move.vote == Vote::kRequestChanges && move.comment.empty())
        return core::InvalidArgument("requesting changes needs a comment saying what to change");
      it->second.votes[who.person] = move.vote;
      return r;
    }
    case Kind::kSubmitReview: {
      if (!UnderReview(r.state)) return Refused(StrCat("the request is ", state, "; it is not under review"));
      if (r.reviews.count(who.person)) return Refused("you have already submitted your review");
      for (const auto& [path, f] : r.files)
        if (!f.votes.count(who.person))
          return Refused(StrCat("vote on every file first; ", core::Quote(path), " has no vote of yours"));
      r.reviews.insert(who.person);
      if (r.state != S::kReviewed) r.state = r.reviews.size() >= 2 ? S::kReviewed : S::kPartiallyReviewed;
      return r;
    }
    case Kind::kReturn:
      if (!UnderReview(r.state)) return Refused(StrCat("the request is ", state, "; only a request under review can be returned"));
      if (move.comment.empty()) return core::InvalidArgument("returning needs a comment for the author");
      r.state = S::kReturned;
      return r;
    case Kind::kReject:
      if (r.state != S::kReviewed) return Refused(StrCat("the request is ", state, "; only a reviewed request can be rejected"));
      r.state = S::kRejected;
      return r;
    case Kind::kApprove:
      if (r.state != S::kReviewed)
        return Refused(StrCat("the request is ", state, "; it needs two independent reviews first"));
      for (const auto& [path, f] : r.files)
        if (DecisionOf(f) != FileDecision::kApproved)
          return Refused(StrCat(core::Quote(path), " is not approved by two checkers"));
      r.state = S::kApproved;
      return r;
    case Kind::kRelease:
      if (r.state != S::kApproved) return Refused(StrCat("the request is ", state, "; only an approved request can be released"));
      r.state = S::kReleased;
      return r;
    default:
      break;
  }
  return Refused("unknown move");
}

}  // namespace sluss::airlock
