#include "sandbox/nvml.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>

#include "core/strings.h"

namespace sluss::sandbox {
namespace {

using core::StrCat;

// The few NVML types used, as nvml.h declares them.
using nvmlReturn_t = int;
using nvmlDevice_t = void*;
struct nvmlUtilization_t {
  unsigned gpu, memory;
};
struct nvmlMemory_t {
  unsigned long long total, free, used;
};
struct nvmlProcessInfo_t {  // _v2 and _v3 share this layout
  unsigned pid;
  unsigned long long usedGpuMemory;
  unsigned gpuInstanceId, computeInstanceId;
};
constexpr nvmlReturn_t kSuccess = 0, kInsufficientSize = 7;
constexpr unsigned long long kValueNotAvailable = ~0ULL;

class NvmlSampler final : public GpuSampler {
 public:
  explicit NvmlSampler(std::string library) : library_(std::move(library)) {}
  ~NvmlSampler() override {
    if (initialized_ && shutdown_) shutdown_();
    if (lib_) ::dlclose(lib_);
  }

  core::Result<void> Open() override {
    lib_ = ::dlopen(library_.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib_) return core::NotFound(StrCat(library_, " cannot be loaded (no NVIDIA driver here?)"));
    auto sym = [this](const char* name) { return ::dlsym(lib_, name); };
    init_ = reinterpret_cast<nvmlReturn_t (*)()>(sym("nvmlInit_v2"));
    shutdown_ = reinterpret_cast<nvmlReturn_t (*)()>(sym("nvmlShutdown"));
    error_string_ = reinterpret_cast<const char* (*)(nvmlReturn_t)>(sym("nvmlErrorString"));
    by_index_ = reinterpret_cast<nvmlReturn_t (*)(unsigned, nvmlDevice_t*)>(
        sym("nvmlDeviceGetHandleByIndex_v2"));
    by_uuid_ = reinterpret_cast<nvmlReturn_t (*)(const char*, nvmlDevice_t*)>(
        sym("nvmlDeviceGetHandleByUUID"));
    mig_by_index_ = reinterpret_cast<nvmlReturn_t (*)(nvmlDevice_t, unsigned, nvmlDevice_t*)>(
        sym("nvmlDeviceGetMigDeviceHandleByIndex"));
    utilization_ = reinterpret_cast<nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*)>(
        sym("nvmlDeviceGetUtilizationRates"));
    memory_ = reinterpret_cast<nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*)>(
        sym("nvmlDeviceGetMemoryInfo"));
    energy_ = reinterpret_cast<nvmlReturn_t (*)(nvmlDevice_t, unsigned long long*)>(
        sym("nvmlDeviceGetTotalEnergyConsumption"));
    processes_ = reinterpret_cast<nvmlReturn_t (*)(nvmlDevice_t, unsigned*, nvmlProcessInfo_t*)>(
        sym("nvmlDeviceGetComputeRunningProcesses_v3"));
    if (!processes_)
      processes_ = reinterpret_cast<nvmlReturn_t (*)(nvmlDevice_t, unsigned*, nvmlProcessInfo_t*)>(
          sym("nvmlDeviceGetComputeRunningProcesses_v2"));
    if (!init_ || !by_index_ || !by_uuid_ || !memory_ || !processes_)
      return core::NotFound(StrCat(library_, " lacks the NVML functions sluss reads"));
    if (nvmlReturn_t r = init_(); r != kSuccess)
      return core::Internal(StrCat("nvmlInit failed: ", Message(r)));
    initialized_ = true;
    return {};
  }

  core::Result<GpuReading> Read(const std::string& name) override {
    auto device = Handle(name);
    if (!device) return std::unexpected(device.error());
    GpuReading out;
    nvmlUtilization_t u{};
    if (utilization_ && utilization_(*device, &u) == kSuccess) out.utilization_pct = u.gpu;
    nvmlMemory_t m{};
    if (memory_(*device, &m) == kSuccess) out.memory_used_bytes = static_cast<std::int64_t>(m.used);
    unsigned long long mj = 0;
    if (energy_ && energy_(*device, &mj) == kSuccess) out.energy_mj = mj;
    std::vector<nvmlProcessInfo_t> procs(64);
    unsigned count = static_cast<unsigned>(procs.size());
    nvmlReturn_t r = processes_(*device, &count, procs.data());
    if (r == kInsufficientSize) {
      procs.resize(count + 16);
      count = static_cast<unsigned>(procs.size());
      r = processes_(*device, &count, procs.data());
    }
    if (r == kSuccess)
      for (unsigned i = 0; i < count && i < procs.size(); ++i)
        out.processes.push_back(
            {static_cast<int>(procs[i].pid),
             procs[i].usedGpuMemory == kValueNotAvailable
                 ? 0
                 : static_cast<std::int64_t>(procs[i].usedGpuMemory)});
    return out;
  }

 private:
  std::string Message(nvmlReturn_t r) const {
    return error_string_ ? error_string_(r) : StrCat("NVML error ", r);
  }

  core::Result<nvmlDevice_t> Handle(const std::string& name) {
    nvmlDevice_t device = nullptr;
    nvmlReturn_t r;
    const auto colon = name.find(':');
    if (name.starts_with("GPU-") || name.starts_with("MIG-")) {
      r = by_uuid_(name.c_str(), &device);
    } else if (colon != std::string::npos) {
      nvmlDevice_t parent = nullptr;
      r = by_index_(static_cast<unsigned>(std::atoi(name.substr(0, colon).c_str())), &parent);
      if (r == kSuccess)
        r = mig_by_index_ ? mig_by_index_(parent, static_cast<unsigned>(std::atoi(
                                                      name.substr(colon + 1).c_str())),
                                          &device)
                          : 3;  // NOT_SUPPORTED
    } else {
      r = by_index_(static_cast<unsigned>(std::atoi(name.c_str())), &device);
    }
    if (r != kSuccess) return core::NotFound(StrCat("NVML has no GPU ", name, ": ", Message(r)));
    return device;
  }

  std::string library_;
  void* lib_ = nullptr;
  bool initialized_ = false;
  nvmlReturn_t (*init_)() = nullptr;
  nvmlReturn_t (*shutdown_)() = nullptr;
  const char* (*error_string_)(nvmlReturn_t) = nullptr;
  nvmlReturn_t (*by_index_)(unsigned, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*by_uuid_)(const char*, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*mig_by_index_)(nvmlDevice_t, unsigned, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*utilization_)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*memory_)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*energy_)(nvmlDevice_t, unsigned long long*) = nullptr;
  nvmlReturn_t (*processes_)(nvmlDevice_t, unsigned*, nvmlProcessInfo_t*) = nullptr;
};

}  // namespace

std::unique_ptr<GpuSampler> MakeNvmlSampler(std::string library) {
  return std::make_unique<NvmlSampler>(std::move(library));
}

GpuAccounting::GpuAccounting(std::unique_ptr<GpuSampler> sampler, std::vector<std::string> gpus,
                             std::function<bool(int pid)> in_job)
    : sampler_(std::move(sampler)),
      gpus_(std::move(gpus)),
      in_job_(std::move(in_job)),
      energy_first_(gpus_.size()),
      energy_last_(gpus_.size()) {}

void GpuAccounting::Sample() {
  if (gpus_.empty() || !unavailable_.empty()) return;
  if (!opened_) {
    opened_ = true;
    if (auto o = sampler_->Open(); !o) {
      unavailable_ = o.error().message;
      return;
    }
  }
  std::int64_t job_memory = 0;
  bool any = false;
  for (std::size_t i = 0; i < gpus_.size(); ++i) {
    auto reading = sampler_->Read(gpus_[i]);
    if (!reading) {
      last_error_ = reading.error().message;
      continue;
    }
    any = true;
    if (reading->utilization_pct) {
      utilization_sum_ += *reading->utilization_pct;
      ++utilization_count_;
    }
    if (reading->energy_mj) {
      if (!energy_first_[i]) energy_first_[i] = reading->energy_mj;
      energy_last_[i] = reading->energy_mj;
    }
    for (const auto& [pid, bytes] : reading->processes) {
      if (!in_job_(pid)) continue;  // another job's, or the host's
      job_memory += bytes;
      if (std::find(pids_.begin(), pids_.end(), pid) == pids_.end()) pids_.push_back(pid);
    }
  }
  if (any) ++samples_;
  memory_peak_ = std::max(memory_peak_, job_memory);
}

void GpuAccounting::Finish(core::JobResult& result) const {
  if (gpus_.empty()) return;
  core::GpuUsage& u = result.gpu_usage;
  if (!unavailable_.empty() || !opened_) {
    u.source = StrCat("unavailable: ", opened_ ? unavailable_ : "the job never ran");
    return;
  }
  if (samples_ == 0) {
    u.source = StrCat("unavailable: ", last_error_.empty() ? "no sample" : last_error_);
    return;
  }
  u.source = "nvml";
  u.samples = samples_;
  if (utilization_count_ > 0) u.utilization_pct = utilization_sum_ / utilization_count_;
  u.memory_peak_bytes = memory_peak_;
  double joules = 0;
  for (std::size_t i = 0; i < gpus_.size(); ++i)
    if (energy_first_[i] && energy_last_[i] && *energy_last_[i] >= *energy_first_[i])
      joules += static_cast<double>(*energy_last_[i] - *energy_first_[i]) / 1000.0;
  u.energy_joules = joules;
  u.processes = static_cast<std::int64_t>(pids_.size());
}

}  // namespace sluss::sandbox
