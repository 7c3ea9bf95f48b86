#pragma once
// GPU accounting: what a job's GPUs did while it ran, sampled on the host
// through NVML (libnvidia-ml.so.1, opened with dlopen so that sluss-run
// runs, and says so, where there is no driver): each GPU's utilisation,
// its energy counter, and the GPU memory of the job's own processes
// (matched to the job through their cgroup). Slurm's GPU accounting reads
// the same figures.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/job_spec.h"

namespace sluss::sandbox {

// One GPU at one moment.
struct GpuReading {
  std::optional<unsigned> utilization_pct;  // absent: not supported (MIG)
  std::int64_t memory_used_bytes = 0;        // the whole device's
  std::optional<std::uint64_t> energy_mj;    // since the driver loaded
  std::vector<std::pair<int, std::int64_t>> processes;  // host pid, GPU memory used
};

// The seam: NVML, or a fake in tests. Not thread-safe; one user.
class GpuSampler {
 public:
  virtual ~GpuSampler() = default;
  // Readies the sampler; an error says why it cannot (no library, no
  // driver), and is what the result records.
  virtual core::Result<void> Open() = 0;
  // `name` as the CDI spec names the GPU: an index ("0", NVML's order, as
  // nvidia-ctk's), "GPU-<uuid>", MIG "0:1" or "MIG-<uuid>".
  virtual core::Result<GpuReading> Read(const std::string& name) = 0;
};

// NVML through dlopen(`library`).
std::unique_ptr<GpuSampler> MakeNvmlSampler(std::string library = "libnvidia-ml.so.1");

// Accumulates a job's readings into its result. `in_job` says whether a
// host pid is one of the job's processes.
class GpuAccounting {
 public:
  GpuAccounting(std::unique_ptr<GpuSampler> sampler, std::vector<std::string> gpus,
                std::function<bool(int pid)> in_job);
  // One round over the job's GPUs. The first call opens the sampler.
  void Sample();
  // Writes the figures, or why there are none, into `result`.
  void Finish(core::JobResult& result) const;

 private:
  std::unique_ptr<GpuSampler> sampler_;
  std::vector<std::string> gpus_;
  std::function<bool(int)> in_job_;
  bool opened_ = false;
  std::string unavailable_;  // why not, once Open failed
  std::int64_t samples_ = 0;
  double utilization_sum_ = 0;
  std::int64_t utilization_count_ = 0;
  std::int64_t memory_peak_ = 0;
  std::vector<std::optional<std::uint64_t>> energy_first_, energy_last_;
  std::vector<int> pids_;
  std::string last_error_;
};

}  // namespace sluss::sandbox
