// Dataset hashing: how fast sluss turns a directory into its manifest, per
// core and on every core, against GNU sha256sum on the same files in the
// same run (one process; and one per core with xargs -P).
//
//   build/bench/hash_bench [GIB] [REPETITIONS]     (default 1 GiB, 3)
//
// The files (16 of 48 MiB and 2,048 of 128 KiB, together GIB) are written
// to a temporary directory and read once before timing, so every figure is
// from the page cache: the hashing, not the disk. Goal (issue 7): >= 1 GiB/s
// per core.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "provenance/dataset.h"

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

std::string FirstLine(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "?";
  char buf[512] = {};
  if (!fgets(buf, sizeof buf, p)) buf[0] = 0;
  pclose(p);
  std::string s = buf;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct Stats {
  double min, median, max;
};
Stats Summarise(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2], v.back()};
}

template <typename F>
Stats Time(int reps, F f) {
  std::vector<double> s;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    f();
    s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return Summarise(s);
}

}  // namespace

int main(int argc, char** argv) {
  const double gib = argc > 1 ? std::atof(argv[1]) : 1.0;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const std::int64_t total = static_cast<std::int64_t>(gib * (1LL << 30));
  fs::path dir = fs::temp_directory_path() / ("sluss-hash-bench-" + std::to_string(getpid()));
  fs::create_directories(dir / "small");
  // Three quarters in 16 big files, a quarter in 128 KiB files.
  std::mt19937_64 rng(1);
  std::vector<char> block(1 << 20);
  for (auto& c : block) c = static_cast<char>(rng());
  auto write = [&](const fs::path& p, std::int64_t size) {
    std::ofstream out(p, std::ios::binary);
    for (std::int64_t done = 0; done < size;) {
      std::int64_t n = std::min<std::int64_t>(size - done, static_cast<std::int64_t>(block.size()));
      block[static_cast<std::size_t>(done / 4096 % 1024)] ^= 1;  // no two blocks alike
      out.write(block.data(), n);
      done += n;
    }
  };
  const std::int64_t big = total * 3 / 4 / 16;
  for (int i = 0; i < 16; ++i) write(dir / ("big-" + std::to_string(i) + ".bin"), big);
  const std::int64_t small_n = std::max<std::int64_t>(1, total / 4 / (128 << 10));
  for (std::int64_t i = 0; i < small_n; ++i)
    write(dir / "small" / ("part-" + std::to_string(i) + ".csv"), 128 << 10);
  const std::string q = "'" + dir.string() + "'";
  std::system(("cat $(find " + q + " -type f) > /dev/null").c_str());  // warm the cache
  auto warm = sluss::provenance::HashDirectory(dir.string(), cores);
  if (!warm) {
    std::fprintf(stderr, "hash_bench: %s\n", warm.error().message.c_str());
    return 1;
  }
  const double bytes_gib = static_cast<double>(warm->Bytes()) / (1 << 30);

  std::printf("machine: %s, %d cores; %s; %s\n",
              FirstLine("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'").c_str(),
              cores, FirstLine("openssl version").c_str(),
              FirstLine("sha256sum --version | head -1").c_str());
  std::printf("data: %.2f GiB in %zu files (16 x %.0f MiB, %lld x 128 KiB), page cache warm; %d repetitions\n\n",
              bytes_gib, warm->files.size(), static_cast<double>(big) / (1 << 20),
              static_cast<long long>(small_n), reps);
  std::printf("%-44s %9s %9s %9s %11s %7s\n", "", "min s", "median s", "max s", "GiB/s", "ratio");
  auto sum1 = Time(reps, [&] {
    std::system(("find " + q + " -type f -print0 | xargs -0 sha256sum > /dev/null").c_str());
  });
  auto sumn = Time(reps, [&] {
    std::system(("find " + q + " -type f -print0 | xargs -0 -n 4 -P " + std::to_string(cores) +
                 " sha256sum > /dev/null")
                    .c_str());
  });
  auto us1 = Time(reps, [&] { (void)sluss::provenance::HashDirectory(dir.string(), 1); });
  auto usn = Time(reps, [&] { (void)sluss::provenance::HashDirectory(dir.string(), cores); });
  auto row = [&](const char* name, Stats s, Stats base) {
    std::printf("%-44s %9.3f %9.3f %9.3f %11.2f %6.2fx\n", name, s.min, s.median, s.max,
                bytes_gib / s.median, base.median / s.median);
  };
  row("sha256sum, one process (baseline)", sum1, sum1);
  row("sluss HashDirectory, 1 thread", us1, sum1);
  std::string n_sum = "sha256sum, " + std::to_string(cores) + " processes (xargs -P, baseline)";
  std::string n_us = "sluss HashDirectory, " + std::to_string(cores) + " threads";
  row(n_sum.c_str(), sumn, sumn);
  row(n_us.c_str(), usn, sumn);
  std::printf("\nper core: sluss %.2f GiB/s (goal >= 1 GiB/s), sha256sum %.2f GiB/s\n",
              bytes_gib / us1.median, bytes_gib / sum1.median);
  // One line for bench/run-all's table: figure; sluss; peer; peer's; ratio; goal.
  std::printf("summary: dataset hashing, one core; %.2f GiB/s; sha256sum; %.2f GiB/s; %.1fx; >= 1 GiB/s\n",
              bytes_gib / us1.median, bytes_gib / sum1.median, sum1.median / us1.median);
  fs::remove_all(dir);
  return 0;
}
