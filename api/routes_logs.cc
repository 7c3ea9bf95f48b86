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

// The controlled channel (issue 23, point 6): what a researcher may read
// of a log is its last `max_lines` lines from `from`, each cut at
// `max_chars` bytes (on a UTF-8 boundary). `window` holds the log's bytes
// from `window_start` to its end (`total`). *shown_from: where the lines
// shown begin; *cut: how many lines were cut.
std::string TailLines(std::string_view window, std::int64_t window_start, std::int64_t from,
                      int max_lines, int max_chars, std::int64_t* shown_from, int* cut) {
  // Line starts in the window, newest last; a partial first line (the
  // window began inside it) is never shown.
  std::vector<std::size_t> starts;
  std::size_t pos = 0;
  if (window_start > 0) {
    pos = window.find('\n');
    pos = pos == std::string_view::npos ? window.size() : pos + 1;
  }
  for (std::size_t i = pos; i < window.size();) {
    if (window_start + static_cast<std::int64_t>(i) >= from) starts.push_back(i);
    std::size_t nl = window.find('\n', i);
    i = nl == std::string_view::npos ? window.size() : nl + 1;
  }
  if (starts.size() > static_cast<std::size_t>(max_lines))
    starts.erase(starts.begin(), starts.end() - max_lines);
  *shown_from = starts.empty() ? window_start + static_cast<std::int64_t>(window.size())
                               : window_start + static_cast<std::int64_t>(starts.front());
  *cut = 0;
  std::string out;
  for (std::size_t s : starts) {
    std::size_t nl = window.find('\n', s);
    std::size_t end = nl == std::string_view::npos ? window.size() : nl;
    std::string_view line = window.substr(s, end - s);
    if (line.size() > static_cast<std::size_t>(max_chars)) {
      std::size_t n = static_cast<std::size_t>(max_chars);
      while (n > 0 && (static_cast<unsigned char>(line[n]) & 0xc0) == 0x80) --n;
      line = line.substr(0, n);
      ++*cut;
    }
    out.append(line);
    if (nl != std::string_view::npos) out += '\n';
  }
  return out;
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
  // Stewards and admins read whole logs; everyone else the tail, since a
  // job's output is a channel out of the sandbox that no checker reviewed.
  if (c.who.role != core::Role::kAdmin && c.who.role != core::Role::kSteward) {
    std::int64_t size = 0;
    (void)ReadLog(c.log_files, job->id, static_cast<int>(*attempt), stream, 0, 0, &size);
    // The tail of a log that still grows, read again and again, is all of
    // it: researchers read an attempt's tail once it has ended.
    if (*attempt == job->attempt && !core::IsTerminal(job->state())) {
      HttpResponse resp;
      resp.status = 200;
      resp.content_type = "text/plain; charset=utf-8";
      if (from < size || from == 0)
        resp.body = StrCat("[sluss: withheld: ", size, " bytes; the job is ", core::Name(job->state()),
                           ". Researchers see the last ", c.log_tail_lines,
                           " lines of a log once its attempt has ended; a steward or an admin "
                           "can read all of it as it grows.]\n");
      resp.headers.emplace_back("X-Sluss-Job-State", std::string(core::Name(job->state())));
      resp.headers.emplace_back("X-Sluss-Attempt", std::to_string(*attempt));
      resp.headers.emplace_back("X-Sluss-Log-Size", std::to_string(size));
      resp.headers.emplace_back("X-Sluss-Log-Withheld", std::to_string(size));
      resp.headers.emplace_back("X-Sluss-Next-Offset", std::to_string(std::max(size, from)));
      return resp;
    }
    const std::int64_t window_bytes =
        std::min<std::int64_t>(static_cast<std::int64_t>(c.log_tail_lines) * (c.log_line_chars + 1) + 1, 64 << 20);
    const std::int64_t window_start = std::max<std::int64_t>(std::max<std::int64_t>(size - window_bytes, 0), 0);
    std::string window = ReadLog(c.log_files, job->id, static_cast<int>(*attempt), stream, window_start,
                                 size - window_start, &total);
    total = window_start + static_cast<std::int64_t>(window.size());
    std::int64_t shown_from = 0;
    int cut = 0;
    HttpResponse resp;
    resp.status = 200;
    resp.content_type = "text/plain; charset=utf-8";
    resp.body = TailLines(window, window_start, from, c.log_tail_lines, c.log_line_chars, &shown_from, &cut);
    const std::int64_t withheld = std::max<std::int64_t>(shown_from - from, 0);
    if (withheld > 0 || cut > 0) {
      resp.body.insert(0, StrCat("[sluss: withheld: ", withheld, " bytes before these lines",
                                 cut > 0 ? StrCat(", and the ends of ", cut, " lines longer than ", c.log_line_chars, " bytes") : "",
                                 ". Researchers see the last ", c.log_tail_lines,
                                 " lines of a log; a steward or an admin can read all of it, or "
                                 "add it to a release request.]\n"));
    }
    resp.headers.emplace_back("X-Sluss-Job-State", std::string(core::Name(job->state())));
    resp.headers.emplace_back("X-Sluss-Attempt", std::to_string(*attempt));
    resp.headers.emplace_back("X-Sluss-Log-Size", std::to_string(total));
    resp.headers.emplace_back("X-Sluss-Log-Withheld", std::to_string(withheld));
    resp.headers.emplace_back("X-Sluss-Next-Offset", std::to_string(std::max(total, from)));
    return resp;
  }
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
