#include <string>

#include <catch2/catch.hpp>

#include "gitsync/gitsync.h"

namespace sluss::gitsync {
namespace {

bool Refused(std::string_view name) { return BadTreeEntryName(name).has_value(); }

TEST_CASE("tree entry names that could leave a workspace are refused", "[gitsync]") {
  CHECK(Refused(""));
  CHECK(Refused("."));
  CHECK(Refused(".."));
  CHECK(Refused("../../../PWNED-tree"));
  CHECK(Refused("a/b"));
  CHECK(Refused("/etc"));
  CHECK(Refused(std::string("a\0b", 3)));
  CHECK(*BadTreeEntryName("../x") == "a '/' in the name");
}

TEST_CASE("every spelling git treats as .git is refused", "[gitsync]") {
  for (const char* name : {".git", ".GIT", ".Git", "git~1", "GIT~1", ".git.", ".git ", ".git. . ",
                           ".git::$INDEX_ALLOCATION", ".git\\hooks",
                           ".g\u200cit",        // zero-width non-joiner (HFS+ ignores it)
                           ".\u200dgit\u200e",  // joiner and left-to-right mark
                           "\ufeff.git",        // byte-order mark
                           ".gi\u206at"}) {
    INFO(name);
    CHECK(Refused(name));
  }
}

TEST_CASE("ordinary names pass, including ones that only look like .git", "[gitsync]") {
  for (const char* name : {"analysis", ".gitignore", ".gitattributes", ".github", "git", "git~2",
                           ".git-x", "...", ".. ", "a..b", "résumé.csv", "x\u200cy", "ü"}) {
    INFO(name);
    CHECK_FALSE(Refused(name));
  }
}

}  // namespace
}  // namespace sluss::gitsync
