#include "sandbox/image.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

namespace sluss::sandbox {
namespace {

namespace fs = std::filesystem;

TEST_CASE("an image's digest covers names, contents, modes and links; the cache changes nothing") {
  testing::TempDir dir;
  const fs::path root = dir.path() / "rootfs";
  fs::create_directories(root / "usr/bin");
  std::ofstream(root / "usr/bin/tool") << "v1";
  fs::create_symlink("usr/bin", root / "bin");
  auto plain = ImageDigest(root);
  REQUIRE(plain);
  CHECK(plain->starts_with("sha256:"));
  const std::string cache = dir / "cache.json";
  auto cold = ImageDigest(root, nullptr, cache);
  auto warm = ImageDigest(root, nullptr, cache);
  CHECK(*cold == *plain);
  CHECK(*warm == *plain);
  CHECK(fs::exists(cache));

  std::ofstream(root / "usr/bin/tool") << "v2";  // new contents, new mtime
  auto changed = ImageDigest(root, nullptr, cache);
  CHECK(*changed != *plain);
  CHECK(*ImageDigest(root) == *changed);
  ::chmod((root / "usr/bin/tool").c_str(), 0755);
  CHECK(*ImageDigest(root, nullptr, cache) != *changed);
  fs::remove(root / "bin");
  fs::create_symlink("usr/sbin", root / "bin");
  CHECK(*ImageDigest(root) != *changed);
}

TEST_CASE("the host image has the mount points and a digest") {
  testing::TempDir dir;
  auto image = MakeHostImage(dir / "host");
  REQUIRE(image);
  for (const char* d : {"proc", "dev", "sys", "tmp", "workspace", "data", "usr"})
    CHECK(fs::is_directory(dir.path() / "host" / d));
  struct stat st;
  REQUIRE(::stat((dir.path() / "host/tmp").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 01777);
  CHECK(image->host_binds.front() == "/usr");
  CHECK(image->digest.starts_with("sha256:"));
  CHECK(MakeHostImage(dir / "host")->digest == image->digest);
}

}  // namespace
}  // namespace sluss::sandbox
