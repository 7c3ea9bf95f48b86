#include "sandbox/image.h"
#include "sandbox/loop_mount.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

namespace sluss::sandbox {
namespace {

namespace fs = std::filesystem;

TEST_CASE("an image's digest covers names, contents, modes and links, the cache changes nothing") {
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

TEST_CASE("output file system templates: one per size, at most kMaxOutputTemplates kept") {
  if (::geteuid() != 0) return;  // templates are used only by root
  testing::TempDir dir;
  const std::string templates = dir / "templates";
  for (int i = 0; i < kMaxOutputTemplates + 3; ++i) {
    const std::string image = dir / ("job" + std::to_string(i) + ".img");
    REQUIRE(MakeExt4Image(image, (std::int64_t{4} + i) << 20, templates));
    fs::remove(image);
  }
  int kept = 0;
  for (const auto& e : fs::directory_iterator(templates)) kept += e.path().extension() == ".img";
  CHECK(kept == kMaxOutputTemplates);
  // The newest size is there; the oldest went.
  CHECK(fs::exists(fs::path(templates) / ("ext4-" + std::to_string((std::int64_t{4} + kMaxOutputTemplates + 2) << 20) + ".img")));
  CHECK_FALSE(fs::exists(fs::path(templates) / ("ext4-" + std::to_string(std::int64_t{4} << 20) + ".img")));
}

}  // namespace
}  // namespace sluss::sandbox
