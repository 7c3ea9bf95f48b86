#include "core/glob.h"

#include <catch2/catch.hpp>

using sluss::core::GlobMatch;

TEST_CASE("globs match within a path part") {
  CHECK(GlobMatch("analysis/*.py", "analysis/extract.py"));
  CHECK(!GlobMatch("analysis/*.py", "analysis/sub/extract.py"));
  CHECK(!GlobMatch("analysis/*.py", "analysis/extract.R"));
  CHECK(GlobMatch("output/table?.csv", "output/table1.csv"));
  CHECK(GlobMatch("output/[ab].csv", "output/b.csv"));
  CHECK(!GlobMatch("output/[!ab].csv", "output/b.csv"));
  CHECK(GlobMatch("output/[0-9]*.csv", "output/7days.csv"));
  CHECK(GlobMatch("sluss.yaml", "sluss.yaml"));
  CHECK(!GlobMatch("sluss.yaml", "x/sluss.yaml"));
}

TEST_CASE("a double star matches any number of parts, including none") {
  CHECK(GlobMatch("lib/**", "lib/a.py"));
  CHECK(GlobMatch("lib/**", "lib/x/y/z.R"));
  CHECK(GlobMatch("**/*.R", "table1.R"));
  CHECK(GlobMatch("**/*.R", "analysis/deep/table1.R"));
  CHECK(GlobMatch("output/**/*.parquet", "output/a.parquet"));
  CHECK(GlobMatch("output/**/*.parquet", "output/x/y/a.parquet"));
  CHECK(!GlobMatch("output/**/*.parquet", "other/a.parquet"));
  CHECK(GlobMatch("**", "anything/at/all"));
}
