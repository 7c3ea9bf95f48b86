#pragma once

// Runs SQL against a database file with the sqlite3 command-line shell, as an
// operator (or an attacker with file access) would, so that tests can tamper
// with a database without linking SQLite outside store/.

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace sluss::testing {

struct SqlResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

inline SqlResult RunSql(const std::string& db_path, const std::string& sql) {
  auto quote = [](const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  std::string cmd = "sqlite3 -bail " + quote(db_path) + " " + quote(sql) + " 2>&1";
  SqlResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace sluss::testing
