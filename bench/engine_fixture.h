#pragma once
// What the engine benchmarks share: a preparer that launches nothing real,
// a fresh SQLite store holding one run of trivial jobs, and the engine's
// options for one node.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "scheduler/engine.h"
#include "store/store.h"

namespace sluss::bench {

// A launch request naming only the job and its node: no workspace, no
// container.
class BarePreparer final : public core::LaunchPreparer {
 public:
  core::Result<core::LaunchRequest> Prepare(const core::Job& job, const core::Run&,
                                            const core::Placement& start) override {
    core::LaunchRequest r;
    r.job = job.id;
    r.node = start.node;
    return r;
  }
};

struct FreshRun {
  std::unique_ptr<store::SqliteStore> store;
  core::RunId run;
  std::vector<core::JobId> ids;  // in the order created
};

// A new store in `dir` (emptied first) with project p1 and one run of
// `jobs` actions, each asking for `milli_cpus` and created with `status`.
// Exits when the store cannot be made: a benchmark has nothing to measure.
inline FreshRun Fresh(const std::string& dir, int jobs, core::StatusCode status,
                      std::int64_t milli_cpus) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto opened = store::SqliteStore::Open(dir + "/sluss.db");
  if (!opened) {
    std::fprintf(stderr, "opening the store failed: %s\n", opened.error().message.c_str());
    std::exit(1);
  }
  FreshRun out;
  out.store = std::move(*opened);
  core::SystemClock clock;
  core::Project p;
  p.name = "p1";
  p.created_at = clock.Now();
  (void)out.store->CreateProject(p);
  core::NewRun r;
  r.project = "p1";
  r.submitted_by = "alice@example.org";
  const std::string spec =
      R"({"image":"x","resources":{"milli_cpus":)" + std::to_string(milli_cpus) + "}}";
  for (int i = 0; i < jobs; ++i) {
    // As long as a real one ("sha256:" and 64 hex digits): the engine
    // keeps each pending job's key.
    char key[80];
    std::snprintf(key, sizeof key, "sha256:%064x", i);
    r.jobs.push_back({"a" + std::to_string(i), status, "", spec, key, {}});
  }
  auto run = out.store->CreateRun(r, clock.Now());
  if (!run) {
    std::fprintf(stderr, "creating the run failed: %s\n", run.error().message.c_str());
    std::exit(1);
  }
  out.run = run->id;
  auto listed = out.store->ListJobs(run->id);
  if (!listed) {
    std::fprintf(stderr, "listing the run failed: %s\n", listed.error().message.c_str());
    std::exit(1);
  }
  for (const auto& j : *listed) out.ids.push_back(j.id);
  return out;
}

// One node, n1, with room for `slots` jobs of `milli_cpus_per_slot`.
inline scheduler::EngineOptions OneNode(int slots, std::int64_t milli_cpus_per_slot,
                                        bool run_loop) {
  scheduler::EngineOptions options;
  scheduler::NodeState node;
  node.name = "n1";
  node.capacity = {0, std::int64_t{slots} * milli_cpus_per_slot, std::int64_t{1} << 40,
                   std::chrono::seconds(0), 0};
  options.nodes = {node};
  options.run_loop = run_loop;
  return options;
}

}  // namespace sluss::bench
