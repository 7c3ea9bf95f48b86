#include "core/release.h"

#include "core/strings.h"

namespace sluss::core {

using nlohmann::json;

ReleaseFile* Release::FindFile(std::string_view path) {
  for (auto& f : files)
    if (f.path == path) return &f;
  return nullptr;
}

const ReleaseFile* Release::FindFile(std::string_view path) const {
  return const_cast<Release*>(this)->FindFile(path);
}

bool IsOpenReleaseState(std::string_view s) {
  return s == "pending" || s == "submitted" || s == "partially_reviewed" || s == "reviewed" ||
         s == "approved" || s == "returned";
}

namespace {

std::string Time(TimePoint t) { return FormatRfc3339(t); }

TimePoint ParseTime(const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_string()) return TimePoint{};
  return ParseRfc3339(j[key].get<std::string>()).value_or(TimePoint{});
}

}  // namespace

json ToJson(const Release& r) {
  json files = json::array();
  for (const auto& f : r.files) {
    json votes = json::array();
    for (const auto& v : f.votes)
      votes.push_back({{"checker", v.checker}, {"vote", v.vote}, {"comment", v.comment},
                       {"at", Time(v.at)}});
    files.push_back({{"path", f.path}, {"job", f.job}, {"run", f.run}, {"commit", f.commit},
                     {"sha256", f.sha256}, {"size", f.size}, {"group", f.group},
                     {"verdict", f.verdict}, {"checks", f.checks}, {"exception", f.exception},
                     {"votes", votes}, {"added_at", Time(f.added_at)}});
  }
  json groups = json::object();
  for (const auto& [name, g] : r.groups)
    groups[name] = {{"context", g.context}, {"controls", g.controls}};
  json comments = json::array();
  for (const auto& c : r.comments)
    comments.push_back({{"author", c.author}, {"path", c.path}, {"text", c.text},
                        {"kind", c.kind}, {"visibility", c.visibility}, {"at", Time(c.at)}});
  json history = json::array();
  for (const auto& e : r.history)
    history.push_back({{"state", e.state}, {"by", e.by}, {"at", Time(e.at)}});
  return {{"id", r.id},           {"project", r.project},
          {"author", r.author},   {"state", r.state},
          {"version", r.version}, {"created_at", Time(r.created_at)},
          {"updated_at", Time(r.updated_at)}, {"files", files},
          {"groups", groups},     {"reviews", r.reviews},
          {"comments", comments}, {"history", history}};
}

Result<Release> ReleaseFromJson(const json& j) {
  if (!j.is_object()) return InvalidArgument("a release request must be a JSON object");
  Release r;
  try {
    r.id = j.value("id", std::int64_t{0});
    r.project = j.value("project", "");
    r.author = j.value("author", "");
    r.state = j.value("state", "pending");
    r.version = j.value("version", std::int64_t{0});
    r.created_at = ParseTime(j, "created_at");
    r.updated_at = ParseTime(j, "updated_at");
    for (const auto& fj : j.value("files", json::array())) {
      ReleaseFile f;
      f.path = fj.value("path", "");
      f.job = fj.value("job", std::int64_t{0});
      f.run = fj.value("run", std::int64_t{0});
      f.commit = fj.value("commit", "");
      f.sha256 = fj.value("sha256", "");
      f.size = fj.value("size", std::int64_t{0});
      f.group = fj.value("group", "");
      f.verdict = fj.value("verdict", "");
      f.checks = fj.value("checks", json::object());
      f.exception = fj.value("exception", "");
      f.added_at = ParseTime(fj, "added_at");
      for (const auto& vj : fj.value("votes", json::array()))
        f.votes.push_back({vj.value("checker", ""), vj.value("vote", ""),
                           vj.value("comment", ""), ParseTime(vj, "at")});
      r.files.push_back(std::move(f));
    }
    const json groups = j.value("groups", json::object());  // items() borrows it
    for (const auto& [name, gj] : groups.items())
      r.groups[name] = {gj.value("context", ""), gj.value("controls", "")};
    r.reviews = j.value("reviews", std::vector<std::string>{});
    for (const auto& cj : j.value("comments", json::array()))
      r.comments.push_back({cj.value("author", ""), cj.value("path", ""), cj.value("text", ""),
                            cj.value("kind", ""), cj.value("visibility", "checkers"),
                            ParseTime(cj, "at")});
    for (const auto& ej : j.value("history", json::array()))
      r.history.push_back({ej.value("state", ""), ej.value("by", ""), ParseTime(ej, "at")});
  } catch (const json::exception& e) {
    return InvalidArgument(StrCat("a release request field has the wrong type: ", e.what()));
  }
  return r;
}

}  // namespace sluss::core
