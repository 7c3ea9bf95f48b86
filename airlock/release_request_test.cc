#include "airlock/release_request.h"

#include <catch2/catch.hpp>

using namespace sluss::airlock;
using sluss::core::ErrorCode;
using Kind = Move::Kind;
using S = RequestState;

namespace {

const Actor kAuthor{"alice", false};
const Actor kAuthorChecker{"alice", true};  // the author, who also holds the checker role
const Actor kChecker{"carol", true};
const Actor kOther{"bob", false};           // a researcher, not the author

const std::vector<S> kStates = {S::kPending, S::kSubmitted, S::kPartiallyReviewed, S::kReviewed,
                                S::kApproved, S::kReleased, S::kReturned, S::kRejected,
                                S::kWithdrawn};
const std::vector<Kind> kMoves = {Kind::kAddFile, Kind::kRemoveFile, Kind::kSubmit, Kind::kWithdraw,
                                  Kind::kVote, Kind::kSubmitReview, Kind::kReturn, Kind::kReject,
                                  Kind::kApprove, Kind::kRelease};

// A request in `state` in which every move the state allows is possible:
// one file approved by two other checkers, and voted on by carol.
ReleaseRequest In(S state) {
  ReleaseRequest r;
  r.author = "alice";
  r.state = state;
  r.files["output/t.csv"] = {"aa", {{"dan", Vote::kApprove}, {"erin", Vote::kApprove}, {"carol", Vote::kApprove}}};
  if (state == S::kPartiallyReviewed) r.reviews = {"dan"};
  if (state == S::kReviewed || state == S::kApproved) r.reviews = {"dan", "erin"};
  return r;
}

Move MoveOf(Kind k) {
  Move m{k};
  m.path = "output/t.csv";
  m.sha256 = "bb";
  m.comment = "why";
  return m;
}

// The specification, written as a table apart from the code: which moves
// each kind of person may make in each state.
bool Allowed(S s, Kind k, const Actor& who) {
  bool author = who.person == "alice";
  bool authors_turn = s == S::kPending || s == S::kReturned;
  bool review = s == S::kSubmitted || s == S::kPartiallyReviewed || s == S::kReviewed;
  switch (k) {
    case Kind::kAddFile: case Kind::kRemoveFile: case Kind::kSubmit: case Kind::kWithdraw:
      return author && authors_turn;
    case Kind::kVote: case Kind::kSubmitReview: case Kind::kReturn:
      return who.checker && !author && review;
    case Kind::kReject: case Kind::kApprove:
      return who.checker && !author && s == S::kReviewed;
    case Kind::kRelease:
      return who.checker && !author && s == S::kApproved;
  }
  return false;
}

S After(S s, Kind k) {
  switch (k) {
    case Kind::kSubmit: return S::kSubmitted;
    case Kind::kWithdraw: return S::kWithdrawn;
    case Kind::kSubmitReview:
      return s == S::kSubmitted ? S::kPartiallyReviewed : S::kReviewed;
    case Kind::kReturn: return S::kReturned;
    case Kind::kReject: return S::kRejected;
    case Kind::kApprove: return S::kApproved;
    case Kind::kRelease: return S::kReleased;
    default: return s;
  }
}

}  // namespace

TEST_CASE("every move by every kind of person in every state: allowed as specified, else refused") {
  int allowed = 0, refused = 0;
  for (S s : kStates) {
    for (Kind k : kMoves) {
      for (const Actor* who : {&kAuthor, &kAuthorChecker, &kChecker, &kOther}) {
        INFO("state " << ToString(s) << ", move " << static_cast<int>(k) << ", by " << who->person
                      << (who->checker ? " (checker)" : ""));
        auto r = Apply(In(s), *who, MoveOf(k));
        if (Allowed(s, k, *who)) {
          REQUIRE(r);
          CHECK(r->state == After(s, k));
          ++allowed;
        } else {
          REQUIRE_FALSE(r);
          // The wrong person is told so; the right person at the wrong time is told why.
          CHECK((r.error().code == ErrorCode::kPermissionDenied ||
                 r.error().code == ErrorCode::kFailedPrecondition));
          if (IsFinal(s)) CHECK(r.error().code == ErrorCode::kFailedPrecondition);
          CHECK_FALSE(r.error().message.empty());
          ++refused;
        }
      }
    }
  }
  CHECK(allowed == 8 * 2 + 3 * 3 + 2 + 1);  // author moves x2 roles, reviews, reject+approve, release
  CHECK(refused == 9 * 10 * 4 - allowed);
}

TEST_CASE("the author can never review their own request, even holding the checker role") {
  for (Kind k : {Kind::kVote, Kind::kSubmitReview, Kind::kReturn, Kind::kReject, Kind::kApprove}) {
    auto r = Apply(In(S::kReviewed), kAuthorChecker, MoveOf(k));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kPermissionDenied);
    CHECK(r.error().message == "checkers never review their own request");
  }
}

TEST_CASE("one review cannot release: two independent reviews, then approve, then release") {
  ReleaseRequest r;
  r.author = "alice";
  r = *Apply(r, kAuthor, {Kind::kAddFile, "output/t.csv", "aa"});
  r = *Apply(r, kAuthor, {Kind::kSubmit});
  Actor dan{"dan", true}, erin{"erin", true};
  // A review needs a vote on every file.
  auto early = Apply(r, dan, {Kind::kSubmitReview});
  REQUIRE_FALSE(early);
  CHECK(early.error().message == "vote on every file first; 'output/t.csv' has no vote of yours");
  r = *Apply(r, dan, {Kind::kVote, "output/t.csv", "", Vote::kApprove});
  r = *Apply(r, dan, {Kind::kSubmitReview});
  CHECK(r.state == S::kPartiallyReviewed);
  // The same checker cannot count twice, nor change a submitted vote before the other is in.
  CHECK_FALSE(Apply(r, dan, {Kind::kSubmitReview}));
  CHECK_FALSE(Apply(r, dan, {Kind::kVote, "output/t.csv", "", Vote::kRequestChanges, "x"}));
  // One review: neither approve nor release.
  CHECK(Apply(r, erin, {Kind::kApprove}).error().message ==
        "the request is partially_reviewed; it needs two independent reviews first");
  CHECK_FALSE(Apply(r, erin, {Kind::kRelease}));
  r = *Apply(r, erin, {Kind::kVote, "output/t.csv", "", Vote::kApprove});
  r = *Apply(r, erin, {Kind::kSubmitReview});
  CHECK(r.state == S::kReviewed);
  r = *Apply(r, erin, {Kind::kApprove});
  CHECK(r.state == S::kApproved);
  r = *Apply(r, dan, {Kind::kRelease});
  CHECK(r.state == S::kReleased);
}

TEST_CASE("disagreement blocks approval until a third review breaks the tie") {
  ReleaseRequest r = In(S::kReviewed);
  r.files["output/t.csv"].votes = {{"dan", Vote::kApprove}, {"erin", Vote::kRequestChanges}};
  CHECK(DecisionOf(r.files["output/t.csv"]) == FileDecision::kConflicted);
  CHECK(Apply(r, kChecker, {Kind::kApprove}).error().message ==
        "'output/t.csv' is not approved by two checkers");
  Actor frank{"frank", true};
  r = *Apply(r, frank, {Kind::kVote, "output/t.csv", "", Vote::kApprove});
  r = *Apply(r, frank, {Kind::kSubmitReview});
  CHECK(r.state == S::kReviewed);
  CHECK(DecisionOf(r.files["output/t.csv"]) == FileDecision::kApproved);
  CHECK(Apply(r, frank, {Kind::kApprove})->state == S::kApproved);
}

TEST_CASE("a changed file loses its votes, the same file added again keeps them") {
  ReleaseRequest r = In(S::kReturned);
  auto same = Apply(r, kAuthor, {Kind::kAddFile, "output/t.csv", "aa"});
  CHECK(same->files["output/t.csv"].votes.size() == 3);
  auto changed = Apply(r, kAuthor, {Kind::kAddFile, "output/t.csv", "cc"});
  CHECK(changed->files["output/t.csv"].votes.empty());
  CHECK(changed->files["output/t.csv"].sha256 == "cc");
  // Resubmitted, it needs two fresh reviews.
  auto again = Apply(*changed, kAuthor, {Kind::kSubmit});
  CHECK(again->state == S::kSubmitted);
  CHECK(again->reviews.empty());
}

TEST_CASE("requesting changes and returning need a comment, an empty request cannot be submitted") {
  auto r = Apply(In(S::kSubmitted), kChecker, {Kind::kVote, "output/t.csv", "", Vote::kRequestChanges});
  CHECK(r.error().code == ErrorCode::kInvalidArgument);
  CHECK(Apply(In(S::kSubmitted), kChecker, {Kind::kReturn}).error().code == ErrorCode::kInvalidArgument);
  ReleaseRequest empty;
  empty.author = "alice";
  CHECK(Apply(empty, kAuthor, {Kind::kSubmit}).error().message ==
        "the request has no files; add one first");
  CHECK(Apply(In(S::kPending), kChecker, {Kind::kVote, "output/none.csv", "", Vote::kApprove, ""})
            .error().code == ErrorCode::kFailedPrecondition);
}
