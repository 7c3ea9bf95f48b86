#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/strings.h"
#include "gitsync/gitsync.h"

namespace sluss::gitsync {

namespace {

std::string RecordPath(const std::string& git_dir, std::string_view ref, std::string_view commit) {
  return core::StrCat(git_dir, "/sluss-pushes/", core::Sha256Hex(core::StrCat(ref, "\n", commit)));
}

}  // namespace

core::Result<void> WritePushRecord(const std::string& git_dir, const PushRecord& record) {
  std::error_code ec;
  const std::string dir = git_dir + "/sluss-pushes";
  std::filesystem::create_directories(dir, ec);
  if (ec) return core::Internal(core::StrCat("cannot make ", dir, ": ", ec.message()));
  const std::string path = RecordPath(git_dir, record.ref, record.commit);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << nlohmann::json{{"ref", record.ref},
                          {"commit", record.commit},
                          {"pusher", record.pusher},
                          {"via", record.via}}
               .dump()
        << "\n";
    if (!out) return core::Internal(core::StrCat("cannot write ", tmp));
  }
  ::chmod(tmp.c_str(), 0600);
  if (std::filesystem::rename(tmp, path, ec); ec)
    return core::Internal(core::StrCat("cannot rename ", tmp, ": ", ec.message()));
  return {};
}

std::optional<PushRecord> ReadPushRecord(const std::string& git_dir, std::string_view ref,
                                         std::string_view commit) {
  std::ifstream in(RecordPath(git_dir, ref, commit));
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  if (!j.is_object() || !j["pusher"].is_string() || !j["ref"].is_string() ||
      !j["commit"].is_string() || j["ref"] != ref || j["commit"] != commit)
    return std::nullopt;
  PushRecord r;
  r.ref = std::string(ref);
  r.commit = std::string(commit);
  r.pusher = j["pusher"].get<std::string>();
  r.via = j["via"].is_string() ? j["via"].get<std::string>() : "";
  if (r.pusher.empty()) return std::nullopt;
  return r;
}

}  // namespace sluss::gitsync
