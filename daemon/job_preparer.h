#pragma once

// The daemon's JobPreparer: from a job the planner started to what the
// executor runs. It exports the commit into a fresh workspace, resolves the
// image and the datasets, and binds the outputs of the job's needs (or of
// the jobs their cache hits reused) as read-only inputs. It checks again
// what was checked at submit: each dataset is ready and unchanged on disk,
// and a valid permit still lets the run's person use it (kPermissionDenied
// otherwise: the job fails permit_invalid).

#include <functional>
#include <map>
#include <string>

#include "core/executor.h"
#include "core/image_service.h"
#include "core/store.h"
#include "core/time.h"
#include "daemon/config.h"
#include "daemon/dataset_registry.h"
#include "daemon/git_intake.h"
#include "scheduler/engine.h"

namespace sluss::daemon {

struct PreparerOptions {
  std::string workspaces_dir;  // absolute
  const core::ImageService* images = nullptr;  // approved; must outlive the preparer
  // Registered datasets (checked unchanged at every start) and the clock
  // for the permit check; both must outlive the preparer.
  DatasetRegistry* datasets = nullptr;
  const core::Clock* clock = nullptr;
  // Where an attempt's directory is (its outputs are under outputs/).
  std::function<std::string(core::JobId, int)> job_dir;
};

class JobPreparer final : public scheduler::JobPreparer {
 public:
  JobPreparer(core::Store& store, GitIntake& git, PreparerOptions options)
      : store_(store), git_(git), options_(std::move(options)) {}
  core::Result<core::LaunchRequest> Prepare(const core::Job& job, const core::Run& run,
                                            const scheduler::Start& start) override;

 private:
  core::Store& store_;
  GitIntake& git_;
  PreparerOptions options_;
};

}  // namespace sluss::daemon
