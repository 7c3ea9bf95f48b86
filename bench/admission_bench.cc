// What admitting a big pipeline costs in slussd, without git: sluss.yaml
// of N trivial actions parsed, admitted (cache keys, cache look-ups), each
// job's spec written as JSON and the run created in a real SQLite store, as
// intake/git_intake.cc does on a push. Each phase timed; bench/scale_cli.sh
// measures the same through git push and slussd.
//
//   build/bench/admission_bench [N] [REPETITIONS]   (20000, 3)

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/machine.h"
#include "core/job_spec.h"
#include "core/pipeline.h"
#include "core/digest.h"
#include "scheduler/admission.h"
#include "store/store.h"

using namespace sluss;
using Clock = std::chrono::steady_clock;

namespace {

double CpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Wall clock and CPU time of one phase.
struct Took {
  double wall = 0, cpu = 0;
};

struct Timer {
  Clock::time_point t0 = Clock::now();
  double cpu0 = CpuSeconds();
  Took Stop() const {
    return {std::chrono::duration<double>(Clock::now() - t0).count(), CpuSeconds() - cpu0};
  }
};

struct Phases {
  Took parse, admit, specs, store;
  double total() const { return parse.wall + admit.wall + specs.wall + store.wall; }
  double cpu() const { return parse.cpu + admit.cpu + specs.cpu + store.cpu; }
};

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  const std::string dir = "/tmp/sluss-admission-bench-" + std::to_string(::getpid());
  std::string text = "version: 1\nactions:\n";
  for (int i = 1; i <= n; ++i)
    text += "  a" + std::to_string(i) + ": {image: py, run: \"true\"}\n";

  std::vector<Phases> runs;
  for (int rep = 0; rep < reps; ++rep) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto store = std::move(*store::SqliteStore::Open(dir + "/sluss.db"));
    core::SystemClock clock;
    core::Project p;
    p.name = "big";
    p.created_at = clock.Now();
    (void)store->CreateProject(p);
    Phases ph;

    Timer t;
    core::PipelineResult parsed = core::ParsePipeline(text, "sluss.yaml");
    ph.parse = t.Stop();
    if (!parsed) {
      std::fprintf(stderr, "sluss.yaml did not parse\n");
      return 1;
    }

    t = Timer();
    scheduler::AdmissionFacts facts;
    facts.project = "big";
    facts.person = "a@example.org";
    facts.now = clock.Now();
    facts.images = {core::Image{.name = "py", .digest = "host"}};
    facts.commit_short = "0123456789";
    for (const auto& a : parsed->actions) facts.code_digests[a.name] = "sha256:00";
    facts.find_cached = [&](const std::string& key) -> std::optional<core::JobId> {
      auto hit = store->FindSucceededJob("big", key);
      return hit ? *hit : std::nullopt;
    };
    facts.submission.repository = "sluss-hosted:big";
    facts.submission.tree = std::string(40, 'f');
    facts.submission.pipeline_sha256 = core::Sha256Hex(text);
    facts.submission.commit = core::CommitRecord{"A <a@example.org>", "A <a@example.org>",
                                                 "2026-12-07T00:00:00Z", "big", {"unsigned"}};
    auto admitted = scheduler::Admit(parsed, facts);
    ph.admit = t.Stop();
    if (!admitted || !admitted->errors.empty()) {
      std::fprintf(stderr, "not admitted\n");
      return 1;
    }

    t = Timer();
    core::NewRun run;
    run.project = "big";
    run.commit = std::string(40, 'c');
    run.ref = "refs/heads/main";
    run.trigger = "push";
    run.submitted_by = "a@example.org";
    for (auto& j : admitted->jobs) {
      core::NewJob job;
      job.action = j.spec.name;
      job.status = j.status;
      job.reason = std::move(j.reason);
      job.cache_key = std::move(j.cache_key);
      job.needs = j.spec.needs;
      job.spec_json = core::ToJson(j.spec).dump();
      run.jobs.push_back(std::move(job));
    }
    ph.specs = t.Stop();

    t = Timer();
    auto created = store->CreateRun(run, clock.Now());
    ph.store = t.Stop();
    if (!created) {
      std::fprintf(stderr, "creating the run failed: %s\n", created.error().message.c_str());
      return 1;
    }
    runs.push_back(ph);
  }
  std::filesystem::remove_all(dir);
  std::sort(runs.begin(), runs.end(),
            [](const Phases& a, const Phases& b) { return a.total() < b.total(); });
  const Phases& m = runs[runs.size() / 2];
  std::printf("machine: %s\n", bench::Machine().c_str());
  std::printf("actions: %d (%zu bytes of sluss.yaml), repetitions: %d (the run with the median "
              "total shown)\n\n",
              n, text.size(), reps);
  std::printf("%-32s %9s %9s\n", "", "wall s", "CPU s");
  const std::pair<const char*, Took> rows[] = {{"parse sluss.yaml", m.parse},
                                               {"admit (keys, cache look-ups)", m.admit},
                                               {"specs as JSON", m.specs},
                                               {"store: create the run", m.store}};
  for (const auto& [name, took] : rows) std::printf("%-32s %9.3f %9.3f\n", name, took.wall, took.cpu);
  std::printf("%-32s %9.3f %9.3f (wall min %.3f, max %.3f)\n", "total", m.total(), m.cpu(),
              runs.front().total(), runs.back().total());
  std::printf("summary: admission of %d actions, in-process; %.2f s; -; -; -; < 3 s (with git)\n", n,
              m.total());
  return 0;
}
