// The pure parts of git over HTTPS: which paths are served and which
// credentials are read (the rest is tests/git_http_test.sh, with real git).

#include <catch2/catch.hpp>

#include "api/git_http.h"

namespace sluss::api {
namespace {

std::optional<GitPath> Parse(std::string_view method, std::string_view path,
                             std::map<std::string, std::string> query = {}) {
  return ParseGitPath(method, path, query);
}

TEST_CASE("only the smart protocol's three paths under /git/ are served") {
  auto refs = Parse("GET", "/git/p1.git/info/refs", {{"service", "git-upload-pack"}});
  REQUIRE(refs);
  CHECK(refs->project == "p1");
  CHECK(refs->path_info == "/p1.git/info/refs");
  CHECK(!refs->push);
  auto push = Parse("POST", "/git/p1/git-receive-pack");  // ".git" may be left out
  REQUIRE(push);
  CHECK(push->path_info == "/p1.git/git-receive-pack");
  CHECK(push->push);
  CHECK(Parse("GET", "/git/p1.git/info/refs", {{"service", "git-receive-pack"}})->push);
  // The dumb protocol, other services, other methods, bad names.
  CHECK(!Parse("GET", "/git/p1.git/info/refs"));
  CHECK(!Parse("GET", "/git/p1.git/HEAD"));
  CHECK(!Parse("GET", "/git/p1.git/objects/info/packs"));
  CHECK(!Parse("GET", "/git/p1.git/info/refs", {{"service", "git-upload-archive"}}));
  CHECK(!Parse("GET", "/git/p1.git/git-upload-pack"));
  CHECK(!Parse("POST", "/git/p1.git/info/refs", {{"service", "git-upload-pack"}}));
  CHECK(!Parse("POST", "/git/../p1.git/git-upload-pack"));
  CHECK(!Parse("POST", "/git/P1.git/git-upload-pack"));
  CHECK(!Parse("POST", "/git/p1.git/sub/git-upload-pack"));
  CHECK(!Parse("POST", "/git/.git/git-upload-pack"));
  CHECK(!Parse("POST", "/git/p1.git"));
  CHECK(!IsGitPath("/v1/projects"));
}

TEST_CASE("the token is HTTP Basic's password, whatever the user name, or a bearer token") {
  CHECK(GitCredential("Basic c2x1c3M6c2x1X2FiYw==") == "slu_abc");      // sluss:slu_abc
  CHECK(GitCredential("basic YWxpY2U6c2x1X3g6eQ==") == "slu_x:y");      // alice:slu_x:y
  CHECK(GitCredential("Bearer slu_abc") == "slu_abc");
  CHECK(GitCredential("Basic bm9jb2xvbg==").empty());                   // "nocolon"
  CHECK(GitCredential("Basic !!!").empty());
  CHECK(GitCredential("Digest x").empty());
  CHECK(GitCredential("").empty());
}

}  // namespace
}  // namespace sluss::api
