#pragma once

// JobPreparer: from a job the scheduler placed to what the executor runs.
// It exports the commit into the workspace its jobs share (Workspaces),
// resolves the image and the
// datasets, and binds the outputs of the job's needs (or of the jobs their
// cache hits reused) as read-only inputs. It checks again what was checked
// at submit: each dataset is ready and unchanged on disk, and a valid
// permit still lets the run's person use it (kPermissionDenied otherwise:
// the job fails permit_invalid). It works through core's ports only.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/dataset_service.h"
#include "core/executor.h"
#include "core/git_service.h"
#include "core/image_service.h"
#include "core/store.h"
#include "core/time.h"
#include "executors/workspaces.h"

namespace sluss::executors {

struct PreparerOptions {
  std::string workspaces_dir;  // absolute
  // The node's GPUs as the CDI spec names them: the scheduler's GPU slot i
  // is gpu_names[i]. Empty: the slot's number is the name (an index).
  std::vector<std::string> gpu_names;
  // With several pools: each pool's, by pool (node) name; a node not
  // listed here uses gpu_names.
  std::map<std::string, std::vector<std::string>> node_gpu_names;
  // The approved images, the registered datasets (checked unchanged at
  // every start), the repositories (workspaces are exported from them) and
  // the clock for the permit check; all must outlive the preparer.
  const core::ImageService* images = nullptr;
  core::DatasetService* datasets = nullptr;
  core::GitService* git = nullptr;
  const core::Clock* clock = nullptr;
  // Where a job's attempt's directory is (its outputs are under outputs/).
  std::function<std::string(const core::Job&, int attempt)> job_dir;
};

class JobPreparer final : public core::LaunchPreparer {
 public:
  // `store` must outlive the preparer.
  JobPreparer(core::Store& store, PreparerOptions options)
      : store_(store),
        options_(std::move(options)),
        workspaces_(options_.workspaces_dir, options_.git) {}
  core::Result<core::LaunchRequest> Prepare(const core::Job& job, const core::Run& run,
                                            const core::Placement& placement) override;
  // Removes the workspaces no pending or running job needs (Workspaces::
  // Sweep); how many. Called at start and then every few seconds, from any
  // thread (it reads the pending and running runs, not their jobs).
  core::Result<int> SweepWorkspaces();

 private:
  core::Store& store_;
  PreparerOptions options_;
  Workspaces workspaces_;
};

}  // namespace sluss::executors
