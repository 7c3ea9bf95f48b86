#pragma once

// sluss.yaml: the researcher's pipeline file. Text in, a validated Pipeline
// or every error found out. Reading the file from disk or from a commit is
// the caller's; this module does no I/O.
//
// The format is documented for researchers in docs/pipeline.md.

#include <chrono>
#include <cstddef>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/diagnostic.h"
#include "core/job_state.h"
#include "core/types.h"

namespace sluss::core {

inline constexpr std::size_t kMaxPipelineBytes = 1 << 20;  // 1 MiB
inline constexpr int kPipelineVersion = 1;
inline constexpr int kMaxRetries = 10;
inline constexpr int kMaxPriority = 100;
// The least a job may ask for: the kernel's smallest CPU quota (1 ms in
// 100 ms), what a container needs to start, what an ext4 output file
// system needs for itself.
inline constexpr std::int64_t kMinMilliCpus = 10;
inline constexpr std::int64_t kMinMemoryBytes = std::int64_t{16} << 20;
inline constexpr std::int64_t kMinDiskBytes = std::int64_t{1} << 20;

struct RetryPolicy {
  int max = 0;  // further attempts after the first
  // Which failures are retried. By default nonzero_exit and node_lost;
  // oom_killed only when listed (a rerun with the same memory usually fails
  // again).
  std::vector<StatusCode> on = {StatusCode::kNonzeroExit,
                                StatusCode::kNodeLost};
  bool operator==(const RetryPolicy&) const = default;
};

// What a researcher declares about a releasable output for the automatic
// disclosure checks (airlock/): which columns hold counts, how they were
// rounded, whether zeros may appear.
struct OutputControls {
  std::vector<std::string> counts;  // column names, as in the header
  int round = 0;                    // counts are multiples of this; 0: not declared
  std::optional<bool> zeros_disclosive;  // unset: the checks' default
  bool operator==(const OutputControls&) const = default;
};

struct Outputs {
  std::vector<std::string> sensitive;   // stay inside; later actions may read
  std::vector<std::string> releasable;  // may leave after output checking
  // What the researcher declared for the disclosure checks, by releasable
  // path or glob (only those that declare something).
  std::map<std::string, OutputControls> controls;
  bool operator==(const Outputs&) const = default;
};

struct Action {
  std::string name;
  Position pos;  // of the action's name in the file

  std::string image;
  Position image_pos;
  std::string run;                // as written
  std::vector<std::string> argv;  // `run` split like a shell would, no expansion
  std::vector<std::string> needs;
  std::vector<DatasetRef> datasets;
  std::vector<Position> dataset_pos;  // parallel to `datasets`
  ResourceRequest resources;
  Outputs outputs;
  std::vector<std::string> code;  // globs; empty: the whole repository
  RetryPolicy retries;
  std::vector<std::pair<std::string, std::string>> env;  // sorted by name
  // Order among the project's ready jobs (higher first; -100..100). Not an
  // input of the job: it is not in the cache key.
  int priority = 0;
};

struct Pipeline {
  int version = kPipelineVersion;
  std::vector<Action> actions;  // in file order
  // Indices into `actions`, every action after all of its `needs`; among
  // actions that are ready together, file order.
  std::vector<std::size_t> order;

  const Action* Find(std::string_view name) const;
};

using PipelineResult = std::expected<Pipeline, Diagnostics>;

// Parses and validates a pipeline file. On failure returns every problem
// found, ordered by position, each naming the key it is about. `file` is the
// name printed in diagnostics.
PipelineResult ParsePipeline(std::string_view text,
                             std::string_view file = "sluss.yaml");

// Splits a command line into words the way a POSIX shell would for plain
// words, single and double quotes and backslashes, without any expansion.
// Refuses shell operators (| ; & < > ` $( ) outside quotes, which a user
// would expect a shell to interpret.
Result<std::vector<std::string>> SplitCommand(std::string_view command);

// The canonical JSON form of an action: stable key order, defaults made
// explicit. Stored with each job and hashed into its cache key, so two
// spellings of the same action give the same key.
nlohmann::json ToJson(const Action& action);

}  // namespace sluss::core
