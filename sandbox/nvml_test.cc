#include "sandbox/nvml.h"

#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>

namespace sluss::sandbox {
namespace {

// Readings by GPU name, one list per round; records what was asked.
class FakeSampler final : public GpuSampler {
 public:
  explicit FakeSampler(std::map<std::string, std::vector<GpuReading>> rounds,
                       std::string open_error = "")
      : rounds_(std::move(rounds)), open_error_(std::move(open_error)) {}
  core::Result<void> Open() override {
    ++opens;
    if (!open_error_.empty()) return core::NotFound(open_error_);
    return {};
  }
  core::Result<GpuReading> Read(const std::string& name) override {
    asked.push_back(name);
    auto it = rounds_.find(name);
    if (it == rounds_.end() || it->second.empty()) return core::NotFound("NVML has no GPU " + name);
    GpuReading r = it->second.front();
    if (it->second.size() > 1) it->second.erase(it->second.begin());
    return r;
  }
  int opens = 0;
  std::vector<std::string> asked;

 private:
  std::map<std::string, std::vector<GpuReading>> rounds_;
  std::string open_error_;
};

constexpr std::int64_t kMiB = 1 << 20;

TEST_CASE("GPU accounting: utilisation, the job's own memory, energy, from NVML's readings") {
  // GPU 0: the job's pid 100 and another job's pid 200; GPU-b: the job's 101.
  auto fake = std::make_unique<FakeSampler>(std::map<std::string, std::vector<GpuReading>>{
      {"0",
       {{.utilization_pct = 50, .memory_used_bytes = 900 * kMiB, .energy_mj = 10'000,
         .processes = {{100, 300 * kMiB}, {200, 600 * kMiB}}},
        {.utilization_pct = 100, .memory_used_bytes = 1000 * kMiB, .energy_mj = 40'000,
         .processes = {{100, 400 * kMiB}, {200, 600 * kMiB}}},
        {.utilization_pct = 0, .memory_used_bytes = 600 * kMiB, .energy_mj = 70'000,
         .processes = {{200, 600 * kMiB}}}}},
      {"GPU-b",
       {{.utilization_pct = 30, .energy_mj = 5'000, .processes = {{101, 100 * kMiB}}},
        {.utilization_pct = 60, .energy_mj = 6'000, .processes = {{101, 50 * kMiB}}},
        {.utilization_pct = 0, .energy_mj = 6'500}}}});
  FakeSampler* seen = fake.get();
  GpuAccounting acc(std::move(fake), {"0", "GPU-b"}, [](int pid) { return pid == 100 || pid == 101; });
  acc.Sample();
  acc.Sample();
  acc.Sample();
  core::JobResult r;
  acc.Finish(r);
  CHECK(seen->opens == 1);
  CHECK(seen->asked == std::vector<std::string>{"0", "GPU-b", "0", "GPU-b", "0", "GPU-b"});
  CHECK(r.gpu_usage.source == "nvml");
  CHECK(r.gpu_usage.samples == 3);
  CHECK(r.gpu_usage.utilization_pct == Approx((50 + 100 + 0 + 30 + 60 + 0) / 6.0));
  // Peak of the job's processes over both GPUs at once; never the other job's.
  CHECK(r.gpu_usage.memory_peak_bytes == 450 * kMiB);
  CHECK(r.gpu_usage.energy_joules == Approx(60.0 + 1.5));
  CHECK(r.gpu_usage.processes == 2);
}

TEST_CASE("GPU accounting: without NVML the result says so, and why") {
  GpuAccounting acc(std::make_unique<FakeSampler>(
                        std::map<std::string, std::vector<GpuReading>>{},
                        "libnvidia-ml.so.1 cannot be loaded (no NVIDIA driver here?)"),
                    {"0"}, [](int) { return true; });
  acc.Sample();
  acc.Sample();
  core::JobResult r;
  acc.Finish(r);
  CHECK(r.gpu_usage.source ==
        "unavailable: libnvidia-ml.so.1 cannot be loaded (no NVIDIA driver here?)");
  CHECK(r.gpu_usage.samples == 0);
  // A GPU that NVML does not know: no sample, the reason kept.
  GpuAccounting unknown(std::make_unique<FakeSampler>(std::map<std::string, std::vector<GpuReading>>{}),
                        {"7"}, [](int) { return true; });
  unknown.Sample();
  core::JobResult u;
  unknown.Finish(u);
  CHECK(u.gpu_usage.source == "unavailable: NVML has no GPU 7");
  // A job without GPUs has no GPU usage at all.
  GpuAccounting none(std::make_unique<FakeSampler>(std::map<std::string, std::vector<GpuReading>>{}),
                     {}, [](int) { return true; });
  none.Sample();
  core::JobResult n;
  none.Finish(n);
  CHECK(n.gpu_usage.source.empty());
}

TEST_CASE("GPU accounting: the real NVML loader says what is missing") {
  auto nvml = MakeNvmlSampler("libnvidia-ml-does-not-exist.so.1");
  auto opened = nvml->Open();
  REQUIRE_FALSE(opened);
  CHECK(opened.error().message ==
        "libnvidia-ml-does-not-exist.so.1 cannot be loaded (no NVIDIA driver here?)");
}

TEST_CASE("GPU usage goes into result.json and back") {
  core::JobResult r;
  r.status = "succeeded";
  r.gpu_usage = {.source = "nvml", .samples = 4, .utilization_pct = 87.5,
                 .memory_peak_bytes = 3 << 30, .energy_joules = 1234.5, .processes = 2};
  auto back = core::JobResultFromJson(core::ToJson(r));
  REQUIRE(back);
  CHECK(back->gpu_usage == r.gpu_usage);
  core::JobResult cpu;
  CHECK(core::ToJson(cpu)["gpu_usage"].is_null());
}

}  // namespace
}  // namespace sluss::sandbox
