// Repo::Export against crafted trees: real repositories made with the git
// CLI, trees that git's own commands refuse to make written with `git
// hash-object -t tree --literally` (tests/support/evil_tree.py). Whatever
// the tree holds, nothing is written outside the workspace.

#include <cstdio>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "gitsync/gitsync.h"
#include "tests/support/temp_dir.h"

#ifndef SLUSS_SOURCE_DIR
#error "SLUSS_SOURCE_DIR must name the repository root"
#endif

namespace sluss::gitsync {
namespace {

namespace fs = std::filesystem;

// Runs `cmd` with sh in `dir`; its stdout, trimmed. REQUIREs success.
std::string Sh(const fs::path& dir, const std::string& cmd) {
  const std::string full = "cd '" + dir.string() + "' && " + cmd;
  std::FILE* p = ::popen(full.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  REQUIRE(::pclose(p) == 0);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// A repository with one good commit (sluss.yaml and a/f.py); the workspace
// goes three levels below the test's directory so that a path that climbs
// out of it would land in that directory.
struct Fixture {
  testing::TempDir tmp;
  fs::path work = tmp.path() / "work";
  fs::path ws = tmp.path() / "x" / "y" / "z" / "ws";
  std::string good;
  Fixture() {
    fs::create_directories(ws.parent_path());
    testing::WriteFile(work / "sluss.yaml", "version: 1\n");
    testing::WriteFile(work / "a" / "f.py", "print(1)\n");
    Sh(work, "git init -q -b main && git add . && "
             "git -c user.name=A -c user.email=a@example.org commit -qm good");
    good = Sh(work, "git rev-parse HEAD");
  }
  // A commit whose tree is the good one's plus NAME (a file "pwned", or with
  // mode 40000 a directory holding PWNED-dir, or with 120000 a symlink to
  // TARGET).
  std::string Evil(const std::string& name, const std::string& mode,
                   const std::string& target = "") {
    std::string blob = Sh(work, "printf '%s' '" + (target.empty() ? "pwned" : target) +
                                    "' | git hash-object -w --stdin");
    std::string obj = blob;
    if (mode == "40000")
      obj = Sh(work, "printf '100644 blob " + blob + "\\tPWNED-dir\\n' | git mktree");
    std::string tree = Sh(work, "python3 '" SLUSS_SOURCE_DIR "/tests/support/evil_tree.py' " +
                                    good + " '" + name + "' " + mode + " " + obj);
    return Sh(work, "git -c user.name=A -c user.email=a@example.org commit-tree " + tree +
                        " -p " + good + " -m evil");
  }
  // Every path under the test's directory named PWNED*, but git's.
  std::vector<std::string> Pwned() {
    std::vector<std::string> out;
    for (auto it = fs::recursive_directory_iterator(tmp.path()); it != fs::recursive_directory_iterator();
         ++it) {
      if (it->path() == work / ".git") it.disable_recursion_pending();
      if (it->path().filename().string().starts_with("PWNED")) out.push_back(it->path());
    }
    return out;
  }
};

TEST_CASE("a tree entry that climbs out of the workspace is refused before anything is written") {
  Fixture f;
  auto repo = Repo::Open((f.work / ".git").string());
  REQUIRE(repo);
  for (auto [name, mode] : {std::pair{"../../../PWNED-tree", "100644"}, {"..", "40000"},
                            {".GIT", "40000"}, {"git~1", "40000"}, {"a/../../../../PWNED", "100644"}}) {
    INFO(name);
    const std::string sha = f.Evil(name, mode);
    auto r = (*repo)->Export(sha, f.ws.string(), {});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == core::ErrorCode::kInvalidArgument);
    CHECK(r.error().message.starts_with(std::string("tree entry '") + name + "' refused: "));
    CHECK_FALSE(fs::exists(f.ws));
    CHECK(f.Pwned().empty());
    auto files = (*repo)->Files(sha);
    REQUIRE_FALSE(files);
    CHECK(files.error().code == core::ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("a symlink and a directory of the same name cannot redirect a write") {
  Fixture f;
  auto repo = Repo::Open((f.work / ".git").string());
  REQUIRE(repo);
  // "a" is both the directory a/ (with f.py) and a symlink to the test's
  // directory: writing a/f.py through the link would land outside.
  const std::string sha = f.Evil("a", "120000", f.tmp.path().string());
  auto r = (*repo)->Export(sha, f.ws.string(), {});
  REQUIRE_FALSE(r);
  CHECK_FALSE(fs::exists(f.tmp.path() / "f.py"));
  CHECK(fs::is_directory(fs::symlink_status(f.ws / "a")));
}

TEST_CASE("a good tree is written whole, symlinks stay symlinks") {
  Fixture f;
  auto repo = Repo::Open((f.work / ".git").string());
  REQUIRE(repo);
  const std::string sha = f.Evil("link", "120000", "../../../../etc/passwd");
  auto r = (*repo)->Export(sha, f.ws.string(), {});
  REQUIRE(r);
  CHECK(r->files == 3);
  CHECK(fs::is_regular_file(f.ws / "a" / "f.py"));
  CHECK(fs::is_symlink(f.ws / "link"));
  CHECK(fs::read_symlink(f.ws / "link") == "../../../../etc/passwd");
}

TEST_CASE("the pre-receive check names the commit and the path, good pushes pass") {
  Fixture f;
  auto repo = Repo::Open(f.work / ".git");
  REQUIRE(repo);
  const std::string zero(40, '0');
  CHECK((*repo)->CheckPushedCommits(zero, f.good));
  const std::string evil = f.Evil(".git. ", "40000");
  // Buried under a good commit: every new commit is checked, not the tip.
  const std::string on_top =
      Sh(f.work, "git -c user.name=A -c user.email=a@example.org commit-tree " + f.good +
                     "^{tree} -p " + evil + " -m fine");
  auto r = (*repo)->CheckPushedCommits(f.good, on_top);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "commit " + evil.substr(0, 10) +
                                 ": tree entry '.git. ' refused: the name '.git. ', which git "
                                 "treats as .git (git refuses to check out such a path, and "
                                 "sluss will not write it)");
  // What a ref reaches already was checked when it came in.
  Sh(f.work, "git update-ref refs/heads/old " + evil);
  CHECK((*repo)->CheckPushedCommits(zero, on_top));
}

}  // namespace
}  // namespace sluss::gitsync
