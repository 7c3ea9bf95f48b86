// The engine's figures as /metrics serves them.

#include <cstdio>

#include "core/strings.h"
#include "scheduler/engine.h"

namespace sluss::scheduler {

using core::StrCat;

std::string EngineStats::ToPrometheus() const {
  std::string out;
  out += "# HELP sluss_scheduler_cycle_seconds Time of one scheduling cycle (snapshot, plan, act).\n";
  out += "# TYPE sluss_scheduler_cycle_seconds histogram\n";
  std::int64_t cumulative = 0;
  for (std::size_t i = 0; i < std::size(kBuckets); ++i) {
    cumulative += cycle_buckets[i];
    char le[32];
    std::snprintf(le, sizeof le, "%g", kBuckets[i]);
    out += StrCat("sluss_scheduler_cycle_seconds_bucket{le=\"", le, "\"} ", cumulative, "\n");
  }
  cumulative += cycle_buckets[std::size(kBuckets)];
  out += StrCat("sluss_scheduler_cycle_seconds_bucket{le=\"+Inf\"} ", cumulative, "\n");
  char sum[64];
  std::snprintf(sum, sizeof sum, "%.6f", cycle_seconds_sum);
  out += StrCat("sluss_scheduler_cycle_seconds_sum ", sum, "\n");
  out += StrCat("sluss_scheduler_cycle_seconds_count ", cumulative, "\n");
  out += "# HELP sluss_jobs_started_total Attempts launched.\n# TYPE sluss_jobs_started_total counter\n";
  out += StrCat("sluss_jobs_started_total ", started, "\n");
  out += "# HELP sluss_job_outcomes_total Attempts ended, by status code.\n";
  out += "# TYPE sluss_job_outcomes_total counter\n";
  for (const auto& [code, n] : outcomes)
    out += StrCat("sluss_job_outcomes_total{status_code=\"", code, "\"} ", n, "\n");
  out += "# HELP sluss_running_jobs Jobs running at the last cycle.\n# TYPE sluss_running_jobs gauge\n";
  out += StrCat("sluss_running_jobs ", running_jobs, "\n");
  out += "# HELP sluss_pending_jobs Jobs pending at the last cycle.\n# TYPE sluss_pending_jobs gauge\n";
  out += StrCat("sluss_pending_jobs ", pending_jobs, "\n");
  out += "# HELP sluss_gpus_allocated GPUs given to running jobs.\n# TYPE sluss_gpus_allocated gauge\n";
  out += StrCat("sluss_gpus_allocated ", gpus_allocated, "\n");
  out += "# HELP sluss_gpu_jobs_measured_total GPU jobs ended, by whether NVML measured their GPUs.\n";
  out += "# TYPE sluss_gpu_jobs_measured_total counter\n";
  for (const char* source : {"nvml", "unavailable"}) {
    auto it = gpu_jobs_measured.find(source);
    out += StrCat("sluss_gpu_jobs_measured_total{source=\"", source, "\"} ",
                  it == gpu_jobs_measured.end() ? 0 : it->second, "\n");
  }
  char gpu[64];
  std::snprintf(gpu, sizeof gpu, "%.3f", gpu_busy_seconds);
  out += "# HELP sluss_gpu_busy_seconds_total GPU-seconds of ended jobs' GPUs at work (utilisation x wall time x GPUs).\n";
  out += StrCat("# TYPE sluss_gpu_busy_seconds_total counter\nsluss_gpu_busy_seconds_total ", gpu, "\n");
  std::snprintf(gpu, sizeof gpu, "%.3f", gpu_energy_joules);
  out += "# HELP sluss_gpu_energy_joules_total Energy ended jobs' GPUs used while they ran.\n";
  out += StrCat("# TYPE sluss_gpu_energy_joules_total counter\nsluss_gpu_energy_joules_total ", gpu, "\n");
  return out;
}

}  // namespace sluss::scheduler
