#include "core/permit.h"

#include <algorithm>

#include "core/strings.h"

namespace sluss::core {

using nlohmann::json;

namespace {

std::string Day(TimePoint t) { return FormatRfc3339(t).substr(0, 10); }

bool Covers(const Permit& p, std::string_view dataset, std::string_view version) {
  for (const auto& d : p.datasets)
    if (d.name == dataset && (d.version.empty() || version.empty() || d.version == version))
      return true;
  return false;
}

bool Names(const Permit& p, std::string_view person) {
  return std::find(p.persons.begin(), p.persons.end(), person) != p.persons.end();
}

}  // namespace

std::string_view Name(DatasetVersion::State s) {
  switch (s) {
    case DatasetVersion::State::kHashing: return "hashing";
    case DatasetVersion::State::kReady: return "ready";
    case DatasetVersion::State::kFailed: return "failed";
  }
  return "failed";
}

std::optional<DatasetVersion::State> ParseDatasetState(std::string_view s) {
  for (auto v : {DatasetVersion::State::kHashing, DatasetVersion::State::kReady,
                 DatasetVersion::State::kFailed})
    if (Name(v) == s) return v;
  return std::nullopt;
}

json ToJson(const DatasetVersion& d) {
  json j = {{"name", d.name},
            {"version", d.version},
            {"path", d.path},
            {"state", Name(d.state)},
            {"id", d.id.empty() ? json(nullptr) : json(d.id)},
            {"files", d.files},
            {"bytes", d.bytes},
            {"hashed_bytes", d.hashed_bytes},
            {"registered_by", d.registered_by},
            {"registered_at", FormatRfc3339(d.registered_at)},
            {"verified_at", d.verified_at ? json(FormatRfc3339(*d.verified_at)) : json(nullptr)}};
  if (!d.error.empty()) j["error"] = d.error;
  return j;
}

std::string Permit::WhyInvalid(TimePoint now) const {
  if (revoked_at)
    return StrCat("permit ", id, " was revoked ", Day(*revoked_at),
                  revoke_reason.empty() ? std::string() : StrCat(": ", revoke_reason));
  if (now < valid_from) return StrCat("permit ", id, " is valid from ", Day(valid_from));
  if (now >= valid_until) return StrCat("permit ", id, " expired ", Day(valid_until));
  return "";
}

json ToJson(const Permit& p) {
  json datasets = json::array();
  for (const auto& d : p.datasets) {
    json e = {{"name", d.name}};
    if (!d.version.empty()) e["version"] = d.version;
    datasets.push_back(e);
  }
  json j = {{"id", p.id},
            {"project", p.project},
            {"datasets", datasets},
            {"persons", p.persons},
            {"purpose", p.purpose},
            {"valid_from", FormatRfc3339(p.valid_from)},
            {"valid_until", FormatRfc3339(p.valid_until)},
            {"granted_by", p.granted_by},
            {"granted_at", FormatRfc3339(p.granted_at)},
            {"revoked_at", p.revoked_at ? json(FormatRfc3339(*p.revoked_at)) : json(nullptr)}};
  if (p.revoked_at) {
    j["revoked_by"] = p.revoked_by;
    j["revoke_reason"] = p.revoke_reason;
  }
  return j;
}

Result<Permit> PermitFromJson(const json& j) {
  if (!j.is_object()) return InvalidArgument("a permit is a JSON object", "body");
  Permit p;
  auto str = [&](const char* field, std::string* out, bool required) -> Result<void> {
    if (!j.contains(field) || j.at(field).is_null()) {
      if (required) return InvalidArgument(StrCat(field, " is required"), field);
      return {};
    }
    if (!j.at(field).is_string() || (required && j.at(field).get<std::string>().empty()))
      return InvalidArgument(StrCat(field, " must be a non-empty string"), field);
    *out = j.at(field).get<std::string>();
    return {};
  };
  if (auto r = str("id", &p.id, true); !r) return std::unexpected(r.error());
  if (p.id.size() > 64 || p.id.find_first_of("/ \t\n") != std::string::npos)
    return InvalidArgument("id: at most 64 characters, no slashes or spaces", "id");
  if (auto r = str("project", &p.project, true); !r) return std::unexpected(r.error());
  if (auto r = str("purpose", &p.purpose, true); !r) return std::unexpected(r.error());
  for (const char* field : {"valid_from", "valid_until"}) {
    std::string text;
    if (auto r = str(field, &text, true); !r) return std::unexpected(r.error());
    auto t = ParseRfc3339(text);
    if (!t) {
      // A plain date means its start, UTC.
      t = ParseRfc3339(StrCat(text, "T00:00:00Z"));
      if (!t)
        return InvalidArgument(StrCat(field, ": ", Quote(text),
                                      " is not a date (2026-10-01) or an RFC 3339 time"),
                               field);
    }
    (std::string_view(field) == "valid_from" ? p.valid_from : p.valid_until) = *t;
  }
  if (p.valid_until <= p.valid_from)
    return InvalidArgument("valid_until must be after valid_from", "valid_until");
  if (!j.contains("datasets") || !j.at("datasets").is_array() || j.at("datasets").empty())
    return InvalidArgument("datasets must be a non-empty list", "datasets");
  for (const auto& d : j.at("datasets")) {
    PermitDataset pd;
    if (d.is_string()) {
      std::string s = d.get<std::string>();
      auto at = s.find('@');
      pd.name = s.substr(0, at);
      if (at != std::string::npos) pd.version = s.substr(at + 1);
    } else if (d.is_object() && d.contains("name") && d.at("name").is_string()) {
      pd.name = d.at("name").get<std::string>();
      if (d.contains("version") && d.at("version").is_string())
        pd.version = d.at("version").get<std::string>();
    } else {
      return InvalidArgument("datasets: each is \"name\", \"name@version\" or {name, version}",
                             "datasets");
    }
    if (pd.name.empty()) return InvalidArgument("datasets: a dataset has no name", "datasets");
    p.datasets.push_back(pd);
  }
  if (!j.contains("persons") || !j.at("persons").is_array() || j.at("persons").empty())
    return InvalidArgument("persons must be a non-empty list of user names or e-mails", "persons");
  for (const auto& who : j.at("persons")) {
    if (!who.is_string() || who.get<std::string>().empty())
      return InvalidArgument("persons: each is a non-empty string", "persons");
    p.persons.push_back(who.get<std::string>());
  }
  return p;
}

Result<std::string> FindPermit(const std::vector<Permit>& permits, std::string_view project,
                               std::string_view dataset, std::string_view version,
                               std::string_view person, TimePoint now) {
  const Permit* covering_valid = nullptr;
  const Permit* covering_invalid = nullptr;
  const Permit* other_version = nullptr;
  for (const auto& p : permits) {
    if (p.project != project) continue;
    if (!Covers(p, dataset, version)) {
      if (Covers(p, dataset, "") && p.ValidAt(now)) other_version = &p;
      continue;
    }
    if (!p.ValidAt(now)) {
      // The most telling one: the one that ended last.
      if (!covering_invalid || covering_invalid->valid_until < p.valid_until) covering_invalid = &p;
      continue;
    }
    if (Names(p, person)) return p.id;
    covering_valid = &p;
  }
  if (covering_valid)
    return Fail(ErrorCode::kPermissionDenied,
                StrCat(person.empty() ? std::string("the submitter") : std::string(person),
                       " is not a person named in permit ", covering_valid->id,
                       ", which covers dataset ", dataset, " in project ", project));
  std::string why;
  if (covering_invalid) {
    why = StrCat(" (", covering_invalid->WhyInvalid(now), ")");
  } else if (other_version) {
    std::vector<std::string> versions;
    for (const auto& d : other_version->datasets)
      if (d.name == dataset) versions.push_back(d.version);
    why = StrCat(" (permit ", other_version->id, " covers only version ", Join(versions, ", "), ")");
  }
  return Fail(ErrorCode::kPermissionDenied,
              StrCat("dataset ", dataset, version.empty() ? std::string() : StrCat("@", version),
                     " is not in any valid permit of project ", project, why));
}

std::optional<DatasetVersion> ResolveDataset(const std::vector<Permit>& permits,
                                             const std::vector<DatasetVersion>& versions,
                                             std::string_view project, std::string_view dataset,
                                             std::string_view person, TimePoint now) {
  std::optional<DatasetVersion> best;
  for (const auto& v : versions) {
    if (v.name != dataset || v.state != DatasetVersion::State::kReady) continue;
    if (!FindPermit(permits, project, dataset, v.version, person, now)) continue;
    if (!best || best->registered_at < v.registered_at) best = v;
  }
  return best;
}

}  // namespace sluss::core
