// The engine's accounting: fair-share usage (decayed, persisted as a
// setting) and GPU-hour budgets per period, charged when a job ends.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/job_spec.h"
#include "scheduler/engine.h"
#include "scheduler/internal/usage.h"

namespace sluss::scheduler {

using internal::Decay;
using internal::ParseOr;
using nlohmann::json;

std::string BudgetPeriodKey(const std::string& period, core::TimePoint now) {
  using namespace std::chrono;
  auto day = floor<days>(now);
  if (period == "week") day -= (weekday(day) - Monday);
  year_month_day ymd(day);
  char buf[40];
  if (period == "month")
    std::snprintf(buf, sizeof buf, "%04d-%02u", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()));
  else
    std::snprintf(buf, sizeof buf, "%s%04d-%02u-%02u", period == "week" ? "week of " : "",
                  static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()));
  return buf;
}

double Engine::GpuHoursSpent(const std::string& project, const std::string& period) {
  auto it = gpu_hours_.find(project);
  if (it == gpu_hours_.end()) {
    std::pair<std::string, double> v{"", 0.0};
    if (auto text = store_.GetSetting("gpu_hours/" + project)) {
      json j = ParseOr(*text);
      if (j.is_object()) v = {j.value("period", ""), j.value("hours", 0.0)};
    }
    it = gpu_hours_.emplace(project, v).first;
  }
  return it->second.first == period ? it->second.second : 0.0;
}

void Engine::ChargeGpuHours(const core::Job& job, const core::JobOutcome& outcome) {
  if (job.gpus.empty() || !outcome.started_at || !outcome.ended_at) return;
  auto project = store_.GetProject(job.project);
  if (!project || !project->quota.budget) return;
  const core::TimePoint now = clock_.Now();
  const std::string period = BudgetPeriodKey(project->quota.budget->period, now);
  double hours = static_cast<double>(job.gpus.size()) *
                 std::max(0.0, std::chrono::duration<double, std::ratio<3600>>(
                                   *outcome.ended_at - *outcome.started_at).count());
  double spent = GpuHoursSpent(job.project, period) + hours;
  gpu_hours_[job.project] = {period, spent};
  gpu_hours_dirty_.insert(job.project);
}

void Engine::PersistUsage() {
  const core::TimePoint now = clock_.Now();
  for (const auto& p : gpu_hours_dirty_) {
    const auto& [period, spent] = gpu_hours_[p];
    store_.PutSetting("gpu_hours/" + p, json{{"period", period}, {"hours", spent}}.dump(), now);
  }
  gpu_hours_dirty_.clear();
  if (!usage_dirty_) return;
  usage_dirty_ = false;
  json all = json::object();
  for (const auto& [p, u] : usage_)
    all[p] = {{"usage", u.first}, {"at", core::ToUnixMillis(u.second)}};
  store_.PutSetting("fairshare", all.dump(), now);
}

void Engine::ChargeUsage(const core::Job& job, const core::JobOutcome& outcome) {
  if (!outcome.started_at || !outcome.ended_at) return;
  ChargeGpuHours(job, outcome);
  // Parsed once per job; the time limit plays no part here.
  const core::Resources r = core::EffectiveResources(FactsOf(job).request, options_.defaults, {});
  double hours = std::chrono::duration<double, std::ratio<3600>>(*outcome.ended_at -
                                                                 *outcome.started_at).count();
  double cost = std::max(0.0, hours) *
                (static_cast<double>(r.milli_cpus) / 1000.0 + 10.0 * r.gpus);
  const core::TimePoint now = clock_.Now();
  auto& [usage, at] = usage_[job.project];
  usage = Decay(usage, at, now) + cost;
  at = now;
  usage_dirty_ = true;
}

void Engine::LoadUsage() {
  auto v = store_.GetSetting("fairshare");
  if (!v) return;
  json all = ParseOr(*v);
  if (!all.is_object()) return;
  for (const auto& [p, u] : all.items())
    if (u.is_object())
      usage_[p] = {u.value("usage", 0.0), core::FromUnixMillis(u.value("at", std::int64_t{0}))};
}

}  // namespace sluss::scheduler
