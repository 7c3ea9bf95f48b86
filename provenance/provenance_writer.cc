#include "provenance/provenance_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/job_state.h"
#include "core/strings.h"
#include "logging/log.h"
#include "provenance/run_provenance.h"

namespace sluss::provenance {

using logging::Log;
using logging::LogLevel;

using core::StrCat;
using nlohmann::json;

namespace {
constexpr const char* kWatermark = "provenance_written";
}

int ProvenanceWriter::Catch() {
  if (after_ < 0) {
    auto mark = store_.GetSetting(kWatermark);
    json j = mark ? json::parse(*mark, nullptr, false) : json();
    after_ = j.is_object() ? j.value("after", std::int64_t{0}) : 0;
  }
  int written = 0;
  for (;;) {
    auto page = store_.ListAudit(after_, 1000);
    if (!page || page->empty()) break;
    for (const auto& r : *page) {
      if (r.action != "job.status" || !r.payload) continue;
      json p = json::parse(*r.payload, nullptr, false);
      if (!p.is_object()) continue;
      auto to = core::ParseStatusCode(p.value("to", ""));
      if (!to || !core::IsTerminal(*to) || *to == core::StatusCode::kCached) continue;
      const core::JobId id{std::stoll(r.subject.substr(r.subject.find('/') + 1))};
      auto job = store_.GetJob(id);
      if (!job) continue;
      const std::string dir = job_dir_(*job, p.value("attempt", 1));
      std::error_code ec;
      if (!std::filesystem::is_directory(dir, ec)) continue;  // never launched
      auto record = JobProvenanceOf(store_, id);
      if (!record) continue;
      const std::string path = dir + "/provenance.json", tmp = path + ".tmp";
      {
        std::ofstream out(tmp, std::ios::trunc);
        out << record->dump(2) << "\n";
        if (!out) continue;
      }
      std::filesystem::rename(tmp, path, ec);
      if (!ec) ++written;
    }
    after_ = page->back().seq;
    (void)store_.PutSetting(kWatermark, json{{"after", after_}}.dump(),
                            page->back().time);
  }
  return written;
}

}  // namespace sluss::provenance
