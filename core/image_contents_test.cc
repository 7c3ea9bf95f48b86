#include "core/image_contents.h"

#include <catch2/catch.hpp>

namespace sluss::core {
namespace {

TEST_CASE("dpkg status: only installed packages, with their versions") {
  const char* status =
      "Package: python3-numpy\n"
      "Status: install ok installed\n"
      "Priority: optional\n"
      "Version: 1:1.24.2-1\n"
      "Description: fast array facility\n"
      " Numpy contains a powerful N-dimensional array object.\n"
      " Package: not-a-package\n"
      "\n"
      "Package: r-cran-survival\n"
      "Status: deinstall ok config-files\n"
      "Version: 3.4-0-1\n"
      "\n\n"
      "Package: libc6\r\n"
      "Status: install ok installed\r\n"
      "Version: 2.36-9+deb12u4\r\n";
  auto p = ParseDpkgStatus(status);
  REQUIRE(p.size() == 2);
  CHECK(p[0] == ImagePackage{"deb", "libc6", "2.36-9+deb12u4"});
  CHECK(p[1] == ImagePackage{"deb", "python3-numpy", "1:1.24.2-1"});
}

TEST_CASE("dpkg status: paragraphs without a name or version are skipped, nothing fails") {
  CHECK(ParseDpkgStatus("").empty());
  CHECK(ParseDpkgStatus("\n\n\n").empty());
  CHECK(ParseDpkgStatus("Package: a\nStatus: install ok installed\n").empty());
  CHECK(ParseDpkgStatus("Package:\nStatus: install ok installed\nVersion: 1\n").empty());
  CHECK(ParseDpkgStatus("no colon here\n:\n : \n\x01\xff: x\n").empty());
  auto p = ParseDpkgStatus("package: b\nstatus: install ok installed\nversion: 2\n");
  REQUIRE(p.size() == 1);  // field names are case-insensitive
  CHECK(p[0].name == "b");
}

TEST_CASE("Python METADATA: Name and Version from the headers, not the description") {
  auto p = ParsePythonMetadata(
      "Metadata-Version: 2.1\nName: scikit-learn\nVersion: 1.2.1\n"
      "Summary: A set of python modules for machine learning\n\n"
      "Name: not-this\nVersion: 0\n");
  REQUIRE(p);
  CHECK(*p == ImagePackage{"python", "scikit-learn", "1.2.1"});
  auto desc_only = ParsePythonMetadata("Metadata-Version: 2.1\n\nName: x\nVersion: 1\n");
  CHECK(!desc_only);
  CHECK(!ParsePythonMetadata(""));
  CHECK(!ParsePythonMetadata("Name: pandas\n"));
}

TEST_CASE("R DESCRIPTION: Package and Version, continuation lines ignored") {
  auto p = ParseRDescription(
      "Package: survival\nTitle: Survival Analysis\nPriority: recommended\n"
      "Version: 3.5-3\nAuthors@R: c(person(\"Terry M\", \"Therneau\",\n"
      "    email=\"therneau.terry@mayo.edu\"))\nDepends: R (>= 3.5.0)\n");
  REQUIRE(p);
  CHECK(*p == ImagePackage{"r", "survival", "3.5-3"});
  CHECK(!ParseRDescription("Title: no package\nVersion: 1\n"));
}

TEST_CASE("the interpreter a run line starts with") {
  CHECK(InterpreterOf("python3 analysis/extract.py") == "python3");
  CHECK(InterpreterOf("  Rscript analysis/table1.R") == "Rscript");
  CHECK(InterpreterOf("R --vanilla -f x.R") == "R");
  CHECK(InterpreterOf("/usr/bin/python3 -u x.py") == "python3");
  CHECK(InterpreterOf("python3.11 x.py") == "python3");
  CHECK(InterpreterOf("OMP_NUM_THREADS=1 env python3 x.py") == "python3");
  CHECK(InterpreterOf("python x.py") == "python");
  CHECK(!InterpreterOf("bash run.sh"));
  CHECK(!InterpreterOf("./run"));
  CHECK(!InterpreterOf("python3x y"));
  CHECK(!InterpreterOf("python3. y"));
  CHECK(!InterpreterOf(""));
  CHECK(!InterpreterOf("A=1 B=2"));
}

TEST_CASE("packages sort by ecosystem and name, duplicates dropped") {
  std::vector<ImagePackage> p = {{"r", "MASS", "7.3"}, {"deb", "zlib1g", "1"}, {"python", "numpy", "1"},
                                 {"deb", "zlib1g", "1"}, {"deb", "bash", "5"}};
  SortPackages(p);
  REQUIRE(p.size() == 4);
  CHECK(p[0].name == "bash");
  CHECK(p[1].name == "zlib1g");
  CHECK(p[2].ecosystem == "python");
  CHECK(p[3].ecosystem == "r");
}

}  // namespace
}  // namespace sluss::core
