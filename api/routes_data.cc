// Route handlers for datasets, permits, provenance, the audit log, and a
// project's usage (accounting).

#include <algorithm>

#include <nlohmann/json.hpp>

#include "api/internal/route_helpers.h"
#include "api/internal/routes.h"
#include "core/audit.h"
#include "core/permit.h"
#include "core/strings.h"

namespace sluss::api::internal {

using core::StrCat;
using nlohmann::json;

namespace {

HttpResponse DatasetsUnavailable() {
  return ErrorResponse(503, "unavailable", "dataset registration is not available here", {});
}

// Who may see a permit: stewards, admins and auditors all; researchers and
// checkers those of their projects.
std::expected<core::Permit, HttpResponse> VisiblePermit(Context& c) {
  const std::string& id = c.params.at("id");
  auto p = c.store.GetPermit(id);
  if (!p) {
    if (p.error().code == core::ErrorCode::kNotFound)
      return std::unexpected(NotFound(StrCat("permit ", core::Quote(id))));
    return std::unexpected(FromError(p.error()));
  }
  if (!c.CanSee(p->project)) return std::unexpected(NotFound(StrCat("permit ", core::Quote(id))));
  return *p;
}

// A day as "2026-11-01" (midnight UTC) or an RFC 3339 time.
std::optional<core::TimePoint> ParseDayOrTime(const std::string& text) {
  if (auto t = core::ParseRfc3339(text)) return t;
  return core::ParseRfc3339(text + "T00:00:00Z");
}

// The day, week (from Monday) or month that `at` falls in, UTC.
std::pair<core::TimePoint, core::TimePoint> PeriodOf(const std::string& period, core::TimePoint at) {
  using namespace std::chrono;
  auto day = floor<days>(at);
  if (period == "day") return {day, day + days(1)};
  if (period == "week") {
    day -= (weekday(day) - Monday);
    return {day, day + days(7)};
  }
  year_month_day ymd(day);
  sys_days first = ymd.year() / ymd.month() / 1;
  sys_days next = (ymd.year() / ymd.month() + months(1)) / 1;
  return {first, next};
}

}  // namespace

// Jobs by state now; and what the project's jobs used in a period, by who
// ran them and how they ended: ?period=day|week|month (default month) that
// contains ?at= (default now), or ?from= and ?until= (days or RFC 3339).
HttpResponse GetUsage(Context& c) {
  auto p = VisibleProject(c);
  if (!p) return p.error();
  auto counts = c.store.CountJobs(p->name);
  if (!counts) return FromError(counts.error());
  json jobs = {{"pending", 0}, {"running", 0}, {"succeeded", 0}, {"failed", 0}, {"cancelled", 0}};
  for (const auto& jc : *counts) jobs[std::string(core::Name(jc.state))] = jc.count;

  auto query = [&](const char* k) {
    auto it = c.req.query.find(k);
    return it == c.req.query.end() ? std::string() : it->second;
  };
  std::string period = query("period");
  if (period.empty()) period = "month";
  if (period != "day" && period != "week" && period != "month")
    return FieldError("period", "expected day, week or month");
  core::TimePoint at = c.now;
  if (std::string a = query("at"); !a.empty()) {
    auto t = ParseDayOrTime(a);
    if (!t) return FieldError("at", "expected a day (2026-11-01) or an RFC 3339 time");
    at = *t;
  }
  auto [from, until] = PeriodOf(period, at);
  for (auto [key, slot] : {std::pair{"from", &from}, std::pair{"until", &until}}) {
    if (std::string v = query(key); !v.empty()) {
      auto t = ParseDayOrTime(v);
      if (!t) return FieldError(key, "expected a day (2026-11-01) or an RFC 3339 time");
      *slot = *t;
      period = "custom";
    }
  }
  if (until <= from) return FieldError("until", "must be after from");
  auto rows = c.store.AccountJobs(p->name, from, until);
  if (!rows) return FromError(rows.error());
  json by = json::array();
  json totals = {{"jobs", 0}, {"cpu_hours", 0.0}, {"gpu_hours", 0.0}, {"wall_hours", 0.0}};
  for (const auto& r : *rows) {
    by.push_back({{"user", r.user},
                  {"status", core::Name(r.status)},
                  {"jobs", r.jobs},
                  {"cpu_hours", r.cpu_hours},
                  {"gpu_hours", r.gpu_hours},
                  {"wall_hours", r.wall_hours}});
    totals["jobs"] = totals["jobs"].get<std::int64_t>() + r.jobs;
    totals["cpu_hours"] = totals["cpu_hours"].get<double>() + r.cpu_hours;
    totals["gpu_hours"] = totals["gpu_hours"].get<double>() + r.gpu_hours;
    totals["wall_hours"] = totals["wall_hours"].get<double>() + r.wall_hours;
  }
  // ?series=day|week|month: the same accounting per bucket over the
  // period, for a chart over time. Buckets start on the period's start.
  json series = json();
  if (std::string step = query("series"); !step.empty()) {
    if (step != "day" && step != "week" && step != "month")
      return FieldError("series", "expected day, week or month");
    series = json::array();
    constexpr int kMaxBuckets = 400;
    for (core::TimePoint t = from; t < until;) {
      if (series.size() == kMaxBuckets)
        return FieldError("series", "more than 400 buckets; ask for a shorter period or longer steps");
      core::TimePoint next = PeriodOf(step, t).second;
      if (step == "day") next = t + std::chrono::days(1);
      if (step == "week") next = t + std::chrono::days(7);
      next = std::min(next, until);
      auto bucket = c.store.AccountJobs(p->name, t, next);
      if (!bucket) return FromError(bucket.error());
      json b = {{"from", core::FormatRfc3339(t)}, {"until", core::FormatRfc3339(next)},
                {"jobs", 0}, {"cpu_hours", 0.0}, {"gpu_hours", 0.0}, {"wall_hours", 0.0}};
      for (const auto& r : *bucket) {
        b["jobs"] = b["jobs"].get<std::int64_t>() + r.jobs;
        b["cpu_hours"] = b["cpu_hours"].get<double>() + r.cpu_hours;
        b["gpu_hours"] = b["gpu_hours"].get<double>() + r.gpu_hours;
        b["wall_hours"] = b["wall_hours"].get<double>() + r.wall_hours;
      }
      series.push_back(std::move(b));
      t = next;
    }
  }
  auto disks = c.store.DiskByProject();
  if (!disks) return FromError(disks.error());
  const auto d = disks->find(p->name);
  const core::ProjectDisk disk = d == disks->end() ? core::ProjectDisk{} : d->second;
  const auto& max_disk = p->quota.max.disk_bytes;
  return Json(200, {{"project", p->name},
                    {"jobs", jobs},
                    // Now: what its jobs' outputs keep and the workspaces
                    // of its running jobs hold, against max.disk.
                    {"disk",
                     {{"outputs_bytes", disk.outputs_bytes},
                      {"workspaces_bytes", disk.workspaces_bytes},
                      {"total_bytes", disk.total()},
                      {"max_bytes", max_disk ? json(*max_disk) : json()}}},
                    {"accounting",
                     {{"period", period},
                      {"from", core::FormatRfc3339(from)},
                      {"until", core::FormatRfc3339(until)},
                      {"rows", by},
                      {"totals", totals},
                      {"series", series}}}});
}

HttpResponse ListDatasets(Context& c) {
  if (!c.datasets) return DatasetsUnavailable();
  auto all = c.datasets->List();
  if (!all) return FromError(all.error());
  json out = json::array();
  for (const auto& d : *all) out.push_back(core::ToJson(d));
  return Json(200, {{"datasets", out}});
}

HttpResponse RegisterDataset(Context& c) {
  if (!c.datasets) return DatasetsUnavailable();
  auto body = c.Body();
  if (!body) return FromError(body.error());
  if (auto r = OnlyKeys(*body, {"name", "version", "path"}); !r) return FromError(r.error());
  std::string fields[3];
  const char* names[3] = {"name", "version", "path"};
  for (int i = 0; i < 3; ++i) {
    auto v = StringField(*body, names[i]);
    if (!v) return FromError(v.error());
    if (!*v || (*v)->empty()) return FieldError(names[i], "is required");
    fields[i] = **v;
  }
  auto d = c.datasets->Register(fields[0], fields[1], fields[2], c.who.user);
  if (!d) return FromError(d.error());
  return Json(202, core::ToJson(*d));
}

HttpResponse GetDataset(Context& c) {
  if (!c.datasets) return DatasetsUnavailable();
  auto d = c.datasets->Get(c.params.at("name"), c.params.at("version"));
  if (!d) return FromError(d.error());
  return Json(200, core::ToJson(*d));
}

HttpResponse VerifyDataset(Context& c) {
  if (!c.datasets) return DatasetsUnavailable();
  auto d = c.datasets->Verify(c.params.at("name"), c.params.at("version"), c.who.user);
  if (!d) return FromError(d.error());
  return Json(202, core::ToJson(*d));
}

HttpResponse ListPermits(Context& c) {
  std::string project;
  if (auto it = c.req.query.find("project"); it != c.req.query.end()) project = it->second;
  auto all = c.store.ListPermits(project);
  if (!all) return FromError(all.error());
  json out = json::array();
  for (const auto& p : *all)
    if (c.CanSee(p.project)) {
      json j = core::ToJson(p);
      j["valid"] = p.ValidAt(c.now);
      if (!j["valid"].get<bool>()) j["why_invalid"] = p.WhyInvalid(c.now);
      out.push_back(j);
    }
  return Json(200, {{"permits", out}});
}

HttpResponse GrantPermit(Context& c) {
  auto body = c.Body();
  if (!body) return FromError(body.error());
  if (auto r = OnlyKeys(*body, {"id", "project", "datasets", "persons", "purpose", "valid_from",
                                "valid_until"});
      !r)
    return FromError(r.error());
  auto p = core::PermitFromJson(*body);
  if (!p) return FromError(p.error());
  p->granted_by = c.who.user;
  auto stored = c.store.CreatePermit(*p, c.now);
  if (!stored) {
    if (stored.error().code == core::ErrorCode::kNotFound)
      return ErrorResponse(400, "invalid_argument", StrCat("project: ", stored.error().message),
                           {{"field", "project"}});
    return FromError(stored.error());
  }
  return Json(201, core::ToJson(*stored));
}

HttpResponse GetPermit(Context& c) {
  auto p = VisiblePermit(c);
  if (!p) return p.error();
  json j = core::ToJson(*p);
  j["valid"] = p->ValidAt(c.now);
  return Json(200, j);
}

HttpResponse RevokePermit(Context& c) {
  auto p = VisiblePermit(c);
  if (!p) return p.error();
  std::string reason;
  if (!c.req.body.empty()) {
    auto body = c.Body();
    if (!body) return FromError(body.error());
    if (auto r = OnlyKeys(*body, {"reason"}); !r) return FromError(r.error());
    auto v = StringField(*body, "reason");
    if (!v) return FromError(v.error());
    reason = v->value_or("");
  }
  auto revoked = c.store.RevokePermit(p->id, c.who.user, reason, c.now);
  if (!revoked) {
    if (revoked.error().code == core::ErrorCode::kFailedPrecondition)
      return ErrorResponse(409, "failed_precondition", revoked.error().message, {});
    return FromError(revoked.error());
  }
  return Json(200, core::ToJson(*revoked));
}

HttpResponse RunProvenance(Context& c) {
  auto run = VisibleRun(c);
  if (!run) return run.error();
  if (!c.run_provenance) return ErrorResponse(503, "unavailable", "provenance is not available here", {});
  auto crate = c.run_provenance(run->id);
  if (!crate) return FromError(crate.error());
  return Json(200, *crate);
}

// Metadata only (path, level, size, SHA-256, the checks' verdicts): never
// a file's contents, which leave only through a release.
HttpResponse RunOutputs(Context& c) {
  auto run = VisibleRun(c);
  if (!run) return run.error();
  if (!c.run_outputs) return ErrorResponse(503, "unavailable", "outputs are not available here", {});
  auto outputs = c.run_outputs(run->id);
  if (!outputs) return FromError(outputs.error());
  // The checks' column summaries (names, min, max, sum) are the job's data,
  // for those who review it: a researcher reading them would read the data
  // around the review (airlock::WithoutSummaries).
  const core::Role r = c.who.role;
  if (r != core::Role::kChecker && r != core::Role::kSteward && r != core::Role::kAdmin)
    for (auto& job : (*outputs)["jobs"])
      for (auto& o : job["outputs"])
        if (o.contains("checks") && o["checks"].is_object()) o["checks"].erase("columns");
  return Json(200, *outputs);
}

HttpResponse JobProvenance(Context& c) {
  auto job = VisibleJob(c);
  if (!job) return job.error();
  if (!c.job_provenance) return ErrorResponse(503, "unavailable", "provenance is not available here", {});
  auto record = c.job_provenance(job->id);
  if (!record) return FromError(record.error());
  return Json(200, *record);
}

HttpResponse ListAudit(Context& c) {
  auto after = QueryInt(c, "after", 0);
  if (!after) return after.error();
  auto limit = QueryInt(c, "limit", 1000);
  if (!limit) return limit.error();
  auto records = c.store.ListAudit(*after, static_cast<int>(std::clamp<std::int64_t>(*limit, 1, 10000)));
  if (!records) return FromError(records.error());
  json out = json::array();
  for (const auto& r : *records) out.push_back(core::ToJson(r));
  auto size = c.store.AuditSize();
  if (!size) return FromError(size.error());
  json body = {{"records", out}, {"size", *size}};
  body["next_after"] = records->empty() ? json(nullptr) : json(records->back().seq);
  return Json(200, body);
}

HttpResponse ListAuditCheckpoints(Context& c) {
  auto cps = c.store.ListAuditCheckpoints();
  if (!cps) return FromError(cps.error());
  json out = json::array();
  for (const auto& cp : *cps) out.push_back(core::ToJson(cp));
  return Json(200, {{"checkpoints", out},
                    {"public_key", c.audit_public_key},
                    {"key_id", c.audit_public_key.empty() ? std::string() : core::KeyId(c.audit_public_key)}});
}

HttpResponse AuditProof(Context& c) {
  auto seq = QueryInt(c, "seq", 0);
  if (!seq) return seq.error();
  if (*seq < 1) return FieldError("seq", "give the sequence number of a record (1 or more)");
  auto cps = c.store.ListAuditCheckpoints();
  if (!cps) return FromError(cps.error());
  // Proved against the newest checkpoint, which must cover the record.
  if (cps->empty() || cps->back().tree_size < *seq)
    return ErrorResponse(409, "failed_precondition",
                         StrCat("record ", *seq, " is not under a signed checkpoint yet; "
                                "checkpoints are made every few minutes"),
                         {});
  const core::AuditCheckpoint* cp = &cps->back();
  auto leaves = c.store.AuditLeaves(cp->tree_size);
  if (!leaves) return FromError(leaves.error());
  auto records = c.store.ListAudit(*seq - 1, 1);
  if (!records || records->empty()) return NotFound(StrCat("audit record ", *seq));
  auto proof = core::InclusionProof(*leaves, static_cast<std::size_t>(*seq - 1));
  json path = json::array();
  for (const auto& p : proof) path.push_back(core::ToHex(p));
  return Json(200, {{"record", core::ToJson(records->front())},
                    {"leaf_index", *seq - 1},
                    {"leaf_hash", core::ToHex((*leaves)[static_cast<std::size_t>(*seq - 1)])},
                    {"inclusion_path", path},
                    {"checkpoint", core::ToJson(*cp)}});
}

HttpResponse VerifyAudit(Context& c) {
  core::AuditVerifier v;
  std::int64_t after = 0;
  for (;;) {
    auto page = c.store.ListAudit(after, 10000);
    if (!page) return FromError(page.error());
    if (page->empty()) break;
    for (const auto& r : *page) v.Add(r);
    after = page->back().seq;
  }
  auto cps = c.store.ListAuditCheckpoints();
  if (!cps) return FromError(cps.error());
  auto report = v.Finish(*cps, c.audit_public_key);
  json j = {{"ok", report.ok},
            {"records", report.records},
            {"checkpoints", report.checkpoints},
            {"unsigned_records", report.unsigned_records},
            {"purged_payloads", report.purged_payloads}};
  if (!report.ok) {
    j["bad_seq"] = *report.bad_seq;
    j["problem"] = report.problem;
  }
  return Json(200, j);
}

}  // namespace sluss::api::internal
