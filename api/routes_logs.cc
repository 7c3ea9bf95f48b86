// Route handlers: a job's logs, read or followed as they grow.

#include <fstream>
#include <functional>
#include <optional>

#include <nlohmann/json.hpp>

#include "api/api.h"
#include "api/internal/route_helpers.h"
#include "api/internal/routes.h"
#include "api/internal/views.h"
#include "core/strings.h"

namespace sluss::api::internal {

using core::StrCat;
using nlohmann::json;

// The job's output, as plain text from `offset` (bytes into what is kept),
// at most `limit` bytes. X-Sluss-Next-Offset says where to continue and
// X-Sluss-Job-State whether more can come (`sluss logs -f` polls with it).
namespace {

using LogFiles = std::function<std::vector<std::string>(core::JobId, int, const std::string&)>;

// Up to `want` bytes of a job's log from `offset` (in the whole of its
// files, oldest first); *total: the size of the whole.
std::string ReadLog(const LogFiles& files, core::JobId job, int attempt, const std::string& stream,
                    std::int64_t offset, std::int64_t want, std::int64_t* total) {
  std::string body;
  std::int64_t pos = 0;  // where the current file starts in the whole
  for (const auto& file : files(job, attempt, stream)) {
    std::ifstream in(file, std::ios::binary);
    in.seekg(0, std::ios::end);
    const std::int64_t size = in.tellg();
    if (size < 0) continue;
    if (offset < pos + size && static_cast<std::int64_t>(body.size()) < want) {
      const std::int64_t from = std::max<std::int64_t>(0, offset - pos);
      const std::int64_t n = std::min<std::int64_t>(size - from, want - static_cast<std::int64_t>(body.size()));
      std::string chunk(static_cast<std::size_t>(n), '\0');
      in.seekg(from);
      in.read(chunk.data(), n);
      chunk.resize(static_cast<std::size_t>(in.gcount()));
      body += chunk;
    }
    pos += size;
  }
  *total = pos;
  return body;
}

}  // namespace

HttpResponse JobLogs(Context& c) {
  auto job = VisibleJob(c);
  if (!job) return job.error();
  if (!c.log_files) return ErrorResponse(503, "unavailable", "logs are not available here", {});
  std::string stream = "stdout";
  if (auto it = c.req.query.find("stream"); it != c.req.query.end()) stream = it->second;
  if (stream != "stdout" && stream != "stderr") return FieldError("stream", "expected stdout or stderr");
  auto offset = QueryInt(c, "offset", 0);
  if (!offset) return offset.error();
  auto limit = QueryInt(c, "limit", 1 << 20);
  if (!limit) return limit.error();
  auto attempt = QueryInt(c, "attempt", job->attempt);
  if (!attempt) return attempt.error();
  if (*attempt < 1 || *attempt > job->attempt)
    return FieldError("attempt", StrCat("the job has attempts 1 to ", job->attempt));
  bool follow = false;
  if (auto it = c.req.query.find("follow"); it != c.req.query.end()) {
    if (it->second != "1" && it->second != "0" && it->second != "true" && it->second != "false")
      return FieldError("follow", "expected 1 or 0");
    follow = it->second == "1" || it->second == "true";
  }
  const std::int64_t want = std::min<std::int64_t>(*limit, 1 << 20);
  const std::int64_t from = std::max<std::int64_t>(*offset, 0);
  std::int64_t total = 0;
  HttpResponse resp;
  resp.status = 200;
  resp.content_type = "text/plain; charset=utf-8";
  resp.body = ReadLog(c.log_files, job->id, static_cast<int>(*attempt), stream, from, want, &total);
  const std::int64_t next = from + static_cast<std::int64_t>(resp.body.size());
  resp.headers.emplace_back("X-Sluss-Job-State", std::string(core::Name(job->state())));
  resp.headers.emplace_back("X-Sluss-Attempt", std::to_string(*attempt));
  if (!follow) {
    resp.headers.emplace_back("X-Sluss-Log-Size", std::to_string(total));
    resp.headers.emplace_back("X-Sluss-Next-Offset", std::to_string(std::min(next, std::max(total, from))));
    return resp;
  }
  // Streamed until the attempt ends: the log as it grows, then the rest.
  // The stream ends when the job has ended (or moved on to a later
  // attempt) and everything it wrote has been sent.
  resp.next = [store = &c.store, files = c.log_files, id = job->id, att = static_cast<int>(*attempt),
               stream, pos = next]() mutable -> std::optional<std::string> {
    std::int64_t size = 0;
    auto read = [&] {
      std::string more = ReadLog(files, id, att, stream, pos, 1 << 20, &size);
      pos += static_cast<std::int64_t>(more.size());
      return more;
    };
    if (std::string more = read(); !more.empty()) return more;
    auto j = store->GetJob(id);
    const bool over = !j || j->attempt != att || core::IsTerminal(j->state());
    if (!over) return std::string();
    if (std::string more = read(); !more.empty()) return more;
    return std::nullopt;
  };
  return resp;
}

}  // namespace sluss::api::internal
