#include "airlock/check_params.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/strings.h"

namespace sluss::airlock {

using core::StrCat;

nlohmann::json ToJson(const CheckParams& p) {
  return {{"allowed_types", p.allowed_types},     {"max_file_bytes", p.max_file_bytes},
          {"threshold", p.threshold},             {"zeros_disclosive", p.zeros_disclosive},
          {"max_cell_bytes", p.max_cell_bytes},   {"max_columns", p.max_columns}};
}

namespace {

core::Result<std::optional<std::int64_t>> Whole(const nlohmann::json& j, const char* name,
                                                std::int64_t lo, std::int64_t hi) {
  if (!j.contains(name) || j[name].is_null()) return std::nullopt;
  const auto& v = j[name];
  if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi)
    return core::InvalidArgument(StrCat(name, " must be a whole number from ", lo, " to ", hi), name);
  return v.get<std::int64_t>();
}

}  // namespace

core::Result<StewardChecks> StewardChecksFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return core::InvalidArgument("expected a JSON object");
  static const char* const kKeys[] = {"threshold", "round", "zeros_allowed", "max_file_bytes",
                                      "allowed_types"};
  for (const auto& [k, v] : j.items())
    if (std::find_if(std::begin(kKeys), std::end(kKeys), [&](const char* x) { return k == x; }) ==
        std::end(kKeys))
      return core::InvalidArgument(
          StrCat("unknown field ", core::Quote(k),
                 "; expected threshold, round, zeros_allowed, max_file_bytes, allowed_types"),
          k);
  const CheckParams defaults;
  StewardChecks c;
  auto threshold = Whole(j, "threshold", 1, kMaxThreshold);
  if (!threshold) return std::unexpected(threshold.error());
  c.threshold = *threshold;
  auto round = Whole(j, "round", 1, kMaxRound);
  if (!round) return std::unexpected(round.error());
  if (*round) c.round = static_cast<int>(**round);
  auto cap = Whole(j, "max_file_bytes", 1, defaults.max_file_bytes);
  if (!cap) return std::unexpected(cap.error());
  c.max_file_bytes = *cap;
  if (j.contains("zeros_allowed") && !j["zeros_allowed"].is_null()) {
    if (!j["zeros_allowed"].is_boolean())
      return core::InvalidArgument("zeros_allowed must be true or false", "zeros_allowed");
    c.zeros_disclosive = !j["zeros_allowed"].get<bool>();
  }
  if (j.contains("allowed_types") && !j["allowed_types"].is_null()) {
    const auto& t = j["allowed_types"];
    auto bad = core::InvalidArgument(
        StrCat("allowed_types must be a list of types from: ", core::Join(defaults.allowed_types, ", ")),
        "allowed_types");
    if (!t.is_array()) return bad;
    std::vector<std::string> types;
    for (const auto& x : t) {
      if (!x.is_string()) return bad;
      std::string type = x.get<std::string>();
      if (std::find(defaults.allowed_types.begin(), defaults.allowed_types.end(), type) ==
          defaults.allowed_types.end())
        return bad;
      if (std::find(types.begin(), types.end(), type) == types.end()) types.push_back(type);
    }
    c.allowed_types = std::move(types);
  }
  return c;
}

nlohmann::json ToJson(const StewardChecks& c) {
  nlohmann::json j = nlohmann::json::object();
  if (c.threshold) j["threshold"] = *c.threshold;
  if (c.round) j["round"] = *c.round;
  if (c.zeros_disclosive) j["zeros_allowed"] = !*c.zeros_disclosive;
  if (c.max_file_bytes) j["max_file_bytes"] = *c.max_file_bytes;
  if (c.allowed_types) j["allowed_types"] = *c.allowed_types;
  return j;
}

core::Result<EffectiveChecks> Resolve(const CheckParams& defaults,
                                      const std::map<std::string, StewardChecks>& stewards,
                                      std::string_view path, const core::OutputControls& declared) {
  EffectiveChecks e;
  e.params = defaults;
  for (const char* k : {"threshold", "round", "zeros", "max_file_bytes", "allowed_types"})
    e.sources[k] = "default";
  int steward_round = 0;
  std::string round_by, zeros_by;
  bool steward_zeros_disclosive = false;
  for (const auto& [permit, c] : stewards) {
    const std::string by = StrCat("permit ", permit);
    // The first steward to set a value sets it; another only if stricter.
    auto first = [&](const char* k) { return e.sources[k] == "default"; };
    if (c.threshold && (first("threshold") || *c.threshold > e.params.threshold)) {
      e.params.threshold = *c.threshold;
      e.sources["threshold"] = by;
    }
    if (c.max_file_bytes && (first("max_file_bytes") || *c.max_file_bytes < e.params.max_file_bytes)) {
      e.params.max_file_bytes = *c.max_file_bytes;
      e.sources["max_file_bytes"] = by;
    }
    if (c.allowed_types) {
      std::vector<std::string> kept;
      for (const auto& t : e.params.allowed_types)
        if (std::find(c.allowed_types->begin(), c.allowed_types->end(), t) != c.allowed_types->end())
          kept.push_back(t);
      if (first("allowed_types") || kept.size() < e.params.allowed_types.size())
        e.sources["allowed_types"] = by;
      e.params.allowed_types = std::move(kept);
    }
    if (c.zeros_disclosive && (first("zeros") || *c.zeros_disclosive)) {
      e.params.zeros_disclosive = *c.zeros_disclosive;
      e.sources["zeros"] = by;
      if (*c.zeros_disclosive) {
        steward_zeros_disclosive = true;
        zeros_by = by;
      }
    }
    if (c.round && *c.round > steward_round) {
      steward_round = *c.round;
      round_by = by;
    }
  }
  e.controls = declared;
  if (!declared.counts.empty()) e.sources["counts"] = "sluss.yaml";
  if (steward_round > 0) {
    // Every steward's base must divide what is declared.
    for (const auto& [permit, c] : stewards)
      if (c.round && declared.round > 0 && declared.round % *c.round != 0)
        return core::Fail(core::ErrorCode::kFailedPrecondition,
                          StrCat("sluss.yaml declares round: ", declared.round, " for ",
                                 core::Quote(path), ", looser than permit ", permit,
                                 "'s rounding to ", *c.round, "; sluss.yaml may only tighten "
                                 "the steward's checks: declare a multiple of ", *c.round));
    if (declared.round == 0) {
      e.controls.round = steward_round;
      e.sources["round"] = round_by;
    } else {
      e.sources["round"] = "sluss.yaml";
    }
  } else if (declared.round > 0) {
    e.sources["round"] = "sluss.yaml";
  }
  if (declared.zeros_disclosive) {
    if (!*declared.zeros_disclosive && steward_zeros_disclosive)
      return core::Fail(core::ErrorCode::kFailedPrecondition,
                        StrCat("sluss.yaml declares zeros: allowed for ", core::Quote(path),
                               ", looser than ", zeros_by, ", whose steward made zeros "
                               "disclosive; sluss.yaml may only tighten the steward's checks"));
    if (e.sources["zeros"] == "default" || *declared.zeros_disclosive)
      e.sources["zeros"] = "sluss.yaml";
  }
  return e;
}

}  // namespace sluss::airlock
