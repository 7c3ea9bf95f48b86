#include "api/server.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "core/strings.h"

namespace sluss::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Handlers and sessions point at the Impl with a raw pointer, never a
// shared_ptr: a pending handler owning the Impl would own the io_context that
// owns the handler, and neither would ever be freed. Stop() joins every
// thread before the Impl can go, and the io_context's destructor destroys
// the handlers still queued without running them.
struct HttpServer::Impl {
  Api& api;
  ServerOptions options;
  asio::io_context ioc;
  std::optional<asio::ssl::context> tls;  // set: every connection is TLS
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> io_threads;
  std::optional<asio::thread_pool> workers;
  std::optional<asio::thread_pool> git_pool;  // starts git http-backend
  std::atomic<std::size_t> git_backends{0};
  // Each person's share of git_backends (GitHttpOptions::max_backends_per_person).
  std::mutex git_mu;
  std::map<std::string, std::size_t> git_by_person;
  std::atomic<std::size_t> queued{0};
  std::atomic<std::size_t> in_flight{0};
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> body_bytes{0};  // reserved by requests in flight
  std::atomic<std::int64_t> cap_logged_at{0};  // steady seconds; 0: never
  int bound_port = 0;

  // Reserves `n` bytes of body; false when that would pass the cap.
  bool Reserve(std::size_t n) {
    std::size_t now = body_bytes.load();
    do {
      if (now + n > options.max_body_bytes) return false;
    } while (!body_bytes.compare_exchange_weak(now, now + n));
    return true;
  }
  // Says `message`, at most once a minute.
  void WarnOncePerMinute(const std::string& message) {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count() + 1;
    std::int64_t last = cap_logged_at.load();
    if (last != 0 && now - last < 60) return;
    if (!cap_logged_at.compare_exchange_strong(last, now)) return;
    if (options.on_warning) options.on_warning(message);
  }
  bool started = false;

  Impl(Api& a, ServerOptions o) : api(a), options(std::move(o)) {}

  void Accept();
};

// Gives back one of `person`'s git slots (HttpServer::Impl::git_by_person).
void ReleaseGitShare(HttpServer::Impl* impl, const std::string& person) {
  std::lock_guard lock(impl->git_mu);
  auto it = impl->git_by_person.find(person);
  if (it == impl->git_by_person.end()) return;
  if (--it->second == 0) impl->git_by_person.erase(it);
}

namespace {

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection, plain (beast::tcp_stream) or TLS (TlsStream).
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Session(tcp::socket socket, HttpServer::Impl* server)
    requires(!kTls)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), server_(server) {
    ++server_->connections;
  }
  Session(tcp::socket socket, asio::ssl::context& tls, HttpServer::Impl* server)
    requires(kTls)
      : stream_(std::move(socket), tls), timer_(stream_.get_executor()), server_(server) {
    ++server_->connections;
  }
  ~Session() {
    DropSpool();
    Release();
    --server_->connections;
  }

  void Run() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->Lowest().expires_after(self->server_->options.read_timeout);
        self->stream_.async_handshake(asio::ssl::stream_base::server,
                                      [self](beast::error_code ec) {
                                        if (ec) return self->CloseTcp();
                                        self->Read(true);
                                      });
      } else {
        self->Read(true);
      }
    });
  }

 private:
  // A streamed response's source (see WriteStream).
  struct Source {
    std::function<std::optional<std::string>()> next;
  };

  // The body bytes this connection's request holds (ServerOptions::max_body_bytes).
  void Release() {
    server_->body_bytes -= reserved_;
    reserved_ = 0;
  }

  void Read(bool first) {
    Release();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.header_limit));
    parser_->body_limit(server_->options.body_limit);
    // A deadline for the whole request, from its first byte: a client that
    // sends a byte a second does not keep the connection. Between
    // keep-alive requests the idle timeout applies until that first byte
    // (read here into buffer_, where the parser finds it).
    if (first || buffer_.size() > 0) return ReadHeader();
    Lowest().expires_after(server_->options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = this->shared_from_this()](
                                                       beast::error_code ec, std::size_t n) {
      if (ec) return self->OnError(ec);
      self->buffer_.commit(n);
      self->ReadHeader();
    });
  }

  void ReadHeader() {
    Lowest().expires_after(server_->options.read_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, this->shared_from_this()));
  }

  void OnHeader(beast::error_code ec, std::size_t) {
    if (ec) return OnError(ec);
    {
      const auto target = parser_->get().target();
      if (!server_->options.git.repos_dir.empty() &&
          IsGitPath(std::string_view(target.data(), target.size())))
        return OnGitHeader();
    }
    // The body's room, reserved before a byte of it is read.
    const auto length = parser_->content_length();
    const std::size_t want =
        parser_->chunked() ? server_->options.body_limit
                           : static_cast<std::size_t>(std::min<std::uint64_t>(
                                 length.value_or(0), server_->options.body_limit + 1));
    if (want > 0 && !server_->Reserve(want)) {
      server_->WarnOncePerMinute(core::StrCat(
          "request bodies in flight reached ", server_->options.max_body_bytes,
          " bytes (max_body_bytes); requests beyond are answered 503"));
      keep_alive_ = false;
      HttpResponse busy = ErrorResponse(503, "unavailable",
                                        "the server holds too many request bodies; retry in a moment");
      busy.headers.emplace_back("Retry-After", "1");
      return Write(std::move(busy));
    }
    reserved_ = want;
    // A body over the limit is refused on its header, never read (nor
    // asked for: no 100 Continue).
    if (length && *length > server_->options.body_limit) return OnError(http::error::body_limit);
    // The request's deadline, set at its first byte, goes on for the body.
    auto read = [self = this->shared_from_this()] {
      http::async_read(self->stream_, self->buffer_, *self->parser_,
                       beast::bind_front_handler(&Session::OnRead, self));
    };
    if (want > 0 && ExpectsContinue(parser_->get())) return Continue(std::move(read));
    read();
  }

  // Expect: 100-continue (curl sends it before a body over 1 MiB, git
  // before a large push, and each waits a second for the answer): answered
  // once the body is going to be read; a request refused on its header gets
  // its final answer instead, and its body is never read.
  template <class Req>
  static bool ExpectsContinue(const Req& req) {
    auto it = req.find(http::field::expect);
    return req.version() >= 11 && it != req.end() && beast::iequals(it->value(), "100-continue");
  }

  template <class Then>
  void Continue(Then then) {
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res, then = std::move(then)](
                          beast::error_code ec, std::size_t) mutable {
                        if (ec) return self->OnError(ec);
                        then();
                      });
  }

  // The request's line and headers as an HttpRequest (no body); false
  // when the target is malformed. Sets keep_alive_ and version_.
  template <class Req>
  bool MakeRequest(const Req& req, HttpRequest* r) {
    keep_alive_ = req.keep_alive() && !server_->stopping.load();
    version_ = req.version();
    r->method = std::string(req.method_string());
    if (!ParseTarget(std::string_view(req.target().data(), req.target().size()), &r->path,
                     &r->query)) {
      return false;
    }
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      r->headers[name] = std::string(field.value());
    }
    beast::error_code rec;
    auto ep = Lowest().socket().remote_endpoint(rec);
    r->remote = rec ? "?" : ep.address().to_string();
    return true;
  }

  // git's smart HTTP (api/git_http.h). The header alone is authorized on a
  // worker; only then is the body read, into a spool file (the push's
  // limit is its body limit), and git http-backend started on the git
  // pool with that file as its stdin; its output is streamed back.
  void OnGitHeader() {
    HttpRequest head;
    if (!MakeRequest(parser_->get(), &head)) {
      return WriteError(400, "bad_request", "the request target is malformed");
    }
    ++server_->in_flight;
    asio::post(*server_->workers, [self = this->shared_from_this(), head = std::move(head)]() mutable {
      auto access = self->server_->api.AuthorizeGit(head);
      asio::post(self->stream_.get_executor(), [self, head = std::move(head),
                                                access = std::move(access)]() mutable {
        self->OnGitAuthorized(std::move(head), std::move(access));
        --self->server_->in_flight;
      });
    });
  }

  void OnGitAuthorized(HttpRequest head, std::expected<GitAccess, HttpResponse> access) {
    // The body of a refused request is never read: the connection ends
    // with the answer.
    if (!access) {
      keep_alive_ = false;
      return Write(std::move(access.error()));
    }
    const GitHttpOptions& git = server_->options.git;
    // One person cannot take every slot (16 requests whose bodies never
    // come would hold them for git.timeout): at most a few each.
    bool own_share = false;
    {
      std::lock_guard lock(server_->git_mu);
      std::size_t& mine = server_->git_by_person[access->person];
      own_share = mine < git.max_backends_per_person;
      if (own_share) ++mine;
    }
    if (!own_share || server_->git_backends.fetch_add(1) >= git.max_backends) {
      if (own_share) {
        --server_->git_backends;
        ReleaseGitShare(server_, access->person);
      }
      keep_alive_ = false;
      HttpResponse busy;
      busy.status = 503;
      busy.content_type = "text/plain; charset=utf-8";
      busy.body = own_share
                      ? "sluss: the server runs too many git requests; retry in a moment\n"
                      : core::StrCat("sluss: you already have ", git.max_backends_per_person,
                                     " git requests running here; retry when one has ended\n");
      busy.headers.emplace_back("Retry-After", "5");
      AuditGitRefused(head, *access, 503, own_share ? "git service busy" : "person's git slots in use");
      return Write(std::move(busy));
    }
    // Released when the response has been sent, or the connection ends.
    auto slot = std::shared_ptr<void>(nullptr, [s = server_, person = access->person](void*) {
      --s->git_backends;
      ReleaseGitShare(s, person);
    });
    std::string path = (git.spool_dir.empty() ? std::string("/tmp") : git.spool_dir) + "/git-body-XXXXXX";
    const int fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0) return WriteError(500, "internal", "cannot spool the request body");
    ::close(fd);
    spool_ = path;
    git_parser_.emplace(std::move(*parser_));
    const std::uint64_t limit =
        access->path.push ? git.max_push_bytes + (1 << 20) : git.max_fetch_request_bytes;
    git_parser_->body_limit(limit);
    beast::error_code ec;
    git_parser_->get().body().open(spool_.c_str(), beast::file_mode::write, ec);
    if (ec) return WriteError(500, "internal", "cannot spool the request body");
    auto done = [self = this->shared_from_this(), head = std::move(head), access = std::move(*access),
                 slot](beast::error_code read_ec, std::size_t) mutable {
      self->OnGitBody(read_ec, std::move(head), std::move(access), std::move(slot));
    };
    Lowest().expires_after(git.timeout);
    if (git_parser_->is_done()) {
      return asio::post(stream_.get_executor(), [done = std::move(done)]() mutable {
        done(beast::error_code(), 0);
      });
    }
    const auto length = git_parser_->content_length();
    if (ExpectsContinue(git_parser_->get()) && !(length && *length > limit)) {
      return Continue([self = this->shared_from_this(), done = std::move(done)]() mutable {
        http::async_read(self->stream_, self->buffer_, *self->git_parser_, std::move(done));
      });
    }
    http::async_read(stream_, buffer_, *git_parser_, std::move(done));
  }

  void OnGitBody(beast::error_code ec, HttpRequest head, GitAccess access,
                 std::shared_ptr<void> slot) {
    const GitHttpOptions& git = server_->options.git;
    if (ec == http::error::body_limit) {
      DropSpool();
      keep_alive_ = false;
      HttpResponse r;
      r.status = 413;
      r.content_type = "text/plain; charset=utf-8";
      // The client is still sending: read and drop the rest (a while, a
      // bounded amount) after the answer, so that it reads the 413 rather
      // than a reset connection.
      // A client that waits for 100 Continue (never sent) sends nothing.
      drain_after_write_ = !beast::iequals(head.Header("expect"), "100-continue");
      AuditGitRefused(head, access, 413, "request body over its limit");
      r.body = access.path.push
                   ? core::StrCat("sluss: this push is larger than ", git.max_push_bytes,
                                  " bytes, the most one push may carry here (git.max_push, "
                                  "set by the site's admin); push fewer commits at a time, or "
                                  "leave large files out of the repository\n")
                   : core::StrCat("sluss: the fetch request is larger than ",
                                  git.max_fetch_request_bytes, " bytes\n");
      return Write(std::move(r));
    }
    if (ec) {
      DropSpool();
      return OnError(ec);
    }
    git_parser_->get().body().close();
    git_parser_.reset();
    const int fd = ::open(spool_.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    const bool ok = fd >= 0 && ::fstat(fd, &st) == 0;
    DropSpool();  // the backend reads it through `fd`
    if (!ok) {
      if (fd >= 0) ::close(fd);
      return WriteError(500, "internal", "cannot read the spooled request body");
    }
    ++server_->in_flight;
    asio::post(*server_->git_pool, [self = this->shared_from_this(), head = std::move(head),
                                    access = std::move(access), slot = std::move(slot), fd,
                                    size = static_cast<std::uint64_t>(st.st_size)]() mutable {
      // A push its pre-receive hook refused (a tree entry that could leave
      // a workspace, say) is a refusal like slussd's own: git.denied, with
      // the hook's reason. Called from `next`, on a worker.
      auto on_refused = [server = self->server_, head, access](std::string reason) {
        if (!server->api.AuditGitRefused(head, access, 200, "pre-receive hook: " + reason) &&
            server->options.on_warning) {
          server->options.on_warning(
              core::StrCat("audit: a refused push of ", access.person, " was not recorded"));
        }
      };
      auto resp =
          RunGitBackend(self->server_->options.git, access, head, fd, size, std::move(on_refused));
      HttpResponse r;
      if (resp && resp->status >= 400 && !resp->next) {
        self->AuditGitRefused(head, access, resp->status, "refused before git ran");
      }
      if (resp) {
        r = std::move(*resp);
        r.next = [slot = std::move(slot), next = std::move(r.next)] { return next(); };
      } else {
        if (self->server_->options.on_warning)
          self->server_->options.on_warning(resp.error().message);
        r.status = 500;
        r.content_type = "text/plain; charset=utf-8";
        r.body = "sluss: the git service failed; the operators have the details in the log\n";
      }
      asio::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable {
        if (!r.next) self->keep_alive_ = false;
        self->Write(std::move(r));
        --self->server_->in_flight;
      });
    });
  }

  // A git request refused after its authorization: audited as such.
  void AuditGitRefused(const HttpRequest& head, const GitAccess& access, int status,
                       std::string_view why) {
    if (!server_->api.AuditGitRefused(head, access, status, why) && server_->options.on_warning) {
      server_->options.on_warning(
          core::StrCat("audit: a refused git request of ", access.person, " was not recorded"));
    }
  }

  void DropSpool() {
    if (spool_.empty()) return;
    ::unlink(spool_.c_str());
    spool_.clear();
  }

  void OnError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return WriteError(413, "payload_too_large",
                        core::StrCat("the body is larger than ", server_->options.body_limit,
                                     " bytes"));
    }
    if (ec == http::error::header_limit) {
      return WriteError(431, "headers_too_large", "the request headers are too large");
    }
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted) {
      return Close();
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return WriteError(400, "bad_request", "the request is not valid HTTP/1.1");
    }
    Close();
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec) return OnError(ec);
    auto& req = parser_->get();
    HttpRequest r;
    if (!MakeRequest(req, &r)) {
      return WriteError(400, "bad_request", "the request target is malformed");
    }
    r.body = std::move(req.body());
    if (server_->queued.load() >= server_->options.max_queued) {
      return WriteError(503, "unavailable", "the server is busy; retry in a moment");
    }
    ++server_->queued;
    ++server_->in_flight;
    asio::post(*server_->workers, [self = this->shared_from_this(), r = std::move(r)]() {
      --self->server_->queued;
      HttpResponse resp = self->server_->api.Handle(r);
      asio::post(self->stream_.get_executor(), [self, resp = std::move(resp)]() mutable {
        self->Write(std::move(resp));
        --self->server_->in_flight;
      });
    });
  }

  void WriteError(int status, std::string_view code, std::string_view message) {
    keep_alive_ = false;
    Write(ErrorResponse(status, code, message));
  }

  // The status line and headers every response has.
  template <class Body>
  std::shared_ptr<http::response<Body>> Head(const HttpResponse& r) {
    auto res = std::make_shared<http::response<Body>>(static_cast<http::status>(r.status),
                                                      version_ ? version_ : 11);
    res->set(http::field::server, "slussd");
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::cache_control, "no-store");
    res->set("X-Content-Type-Options", "nosniff");
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive_);
    return res;
  }

  void Write(HttpResponse r) {
    if (r.next) return WriteStream(std::move(r));
    auto res = Head<http::string_body>(r);
    res->body() = std::move(r.body);
    res->prepare_payload();
    Lowest().expires_after(server_->options.read_timeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (!ec && self->drain_after_write_) return self->Drain(0);
                        if (ec || !self->keep_alive_ || self->server_->stopping.load()) {
                          return self->Close();
                        }
                        self->Read(false);
                      });
  }

  // Reads and drops what the client still sends, up to 64 MiB or the read
  // timeout, then closes.
  void Drain(std::size_t dropped) {
    if (dropped > (std::size_t{64} << 20) || server_->stopping.load()) return Close();
    if (dropped == 0) Lowest().expires_after(server_->options.read_timeout);
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(64 * 1024),
                            [self = this->shared_from_this(), dropped](beast::error_code ec,
                                                                       std::size_t n) {
                              if (ec) return self->Close();
                              self->Drain(dropped + n);
                            });
  }

  // A streamed response (HttpResponse::next): the header, the body so far,
  // then a chunk whenever `next` has more, until it says the end. `next`
  // runs on the worker pool, never on this connection's strand; between
  // empty answers the connection waits on a timer, holding no thread.
  //
  // The strand owns the stream (`source_`); every step that leaves the
  // strand (a timer, a worker's call to `next`, the hang-up watch) carries
  // its own reference to the Source it was started for, and does nothing
  // when it comes back to find the stream ended or replaced. So ending the
  // stream never takes the function from under a worker that is calling it,
  // and one stream's `next` is never called twice at once.
  void WriteStream(HttpResponse r) {
    auto res = Head<http::empty_body>(r);
    res->chunked(true);
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    source_ = std::make_shared<Source>(Source{std::move(r.next)});
    Lowest().expires_after(server_->options.read_timeout);
    http::async_write_header(
        stream_, *sr,
        [self = this->shared_from_this(), res, sr, src = source_, first = std::move(r.body)](
            beast::error_code ec, std::size_t) mutable {
          if (self->source_ != src) return;
          if (ec) return self->EndStream(false);
          self->WatchForHangUp();
          self->WriteChunk(std::move(first));
        });
  }

  void WriteChunk(std::string data) {
    if (data.empty()) return Poll(std::chrono::milliseconds(0));
    auto buf = std::make_shared<std::string>(std::move(data));
    Lowest().expires_after(server_->options.read_timeout);
    asio::async_write(stream_, http::make_chunk(asio::buffer(*buf)),
                      [self = this->shared_from_this(), buf, src = source_](beast::error_code ec,
                                                                            std::size_t) {
                        if (self->source_ != src) return;
                        if (ec) return self->EndStream(false);
                        self->Poll(std::chrono::milliseconds(0));
                      });
  }

  void Poll(std::chrono::milliseconds after) {
    if (!source_) return;
    if (client_gone_) return EndStream(false);
    if (server_->stopping.load()) return EndStream(true);
    // No deadline while waiting for more (a quiet job is not a slow
    // client); each write sets its own.
    Lowest().expires_never();
    if (after.count() == 0) return Ask(source_);
    timer_.expires_after(after);
    timer_.async_wait([self = this->shared_from_this(), src = source_](beast::error_code ec) {
      if (ec || self->source_ != src) return;
      self->Ask(src);
    });
  }

  // Calls `src->next` on a worker and comes back to the strand with what it
  // said. `src` is the worker's own reference: EndStream may drop the
  // session's meanwhile.
  void Ask(std::shared_ptr<Source> src) {
    asio::post(*server_->workers, [self = this->shared_from_this(), src = std::move(src)] {
      std::optional<std::string> more;
      bool failed = false;
      try {
        more = src->next();
      } catch (const std::exception&) {
        failed = true;  // a bug in the source: end this stream, not the process
      }
      asio::post(self->stream_.get_executor(),
                 [self, src, failed, more = std::move(more)]() mutable {
                   if (self->source_ != src) return;  // ended while the worker read
                   if (failed) return self->EndStream(false);
                   if (!more) return self->EndStream(true);
                   if (more->empty()) return self->Poll(std::chrono::milliseconds(250));
                   self->WriteChunk(std::move(*more));
                 });
    });
  }

  // A client that hangs up while nothing new comes would otherwise be
  // noticed only at the next write: watch the socket for its EOF. The
  // connection reads no request while it streams, so bytes from the client
  // end the stream too (it cannot be watched for EOF behind unread bytes).
  void WatchForHangUp() {
    Lowest().socket().async_wait(
        tcp::socket::wait_read,
        [self = this->shared_from_this(), src = source_](beast::error_code ec) {
          if (ec || self->source_ != src) return;
          self->client_gone_ = true;
          self->EndStream(false);
        });
  }

  void EndStream(bool ok) {
    if (!source_) return;  // ended already
    source_.reset();
    timer_.cancel();
    if (!ok || client_gone_) return Close();
    Lowest().expires_after(server_->options.read_timeout);
    asio::async_write(stream_, http::make_chunk_last(),
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec || !self->keep_alive_ || self->server_->stopping.load()) {
                          return self->Close();
                        }
                        beast::error_code ignored;
                        self->Lowest().socket().cancel(ignored);  // the hang-up watch
                        self->Read(false);
                      });
  }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void Close() {
    if constexpr (kTls) {
      // Say goodbye at the TLS layer, briefly; then drop the connection.
      Lowest().expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        self->CloseTcp();
      });
    } else {
      CloseTcp();
    }
  }

  void CloseTcp() {
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    Lowest().close();
  }

  Stream stream_;
  asio::steady_timer timer_;
  std::shared_ptr<Source> source_;  // set while streaming; on the strand only
  bool client_gone_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::request_parser<http::file_body>> git_parser_;
  std::string spool_;  // a git request's body while it is read
  HttpServer::Impl* server_;
  bool keep_alive_ = false;
  bool drain_after_write_ = false;  // a git request over its body limit
  unsigned version_ = 11;
  std::size_t reserved_ = 0;  // body bytes held in server_->body_bytes
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor->async_accept(asio::make_strand(ioc), [self = this](
                                                     beast::error_code ec, tcp::socket socket) {
    if (self->stopping.load() || !self->acceptor->is_open()) return;
    if (!ec && self->connections.load() >= self->options.max_connections) {
      // Over the cap: closed at once, so that descriptors stay for the
      // store, the jobs and the connections already open.
      self->WarnOncePerMinute(core::StrCat(
          "open connections reached ", self->options.max_connections,
          " (max_connections); new ones are closed until some end"));
      beast::error_code ignored;
      socket.close(ignored);
    } else if (!ec) {
      if (self->tls) {
        std::make_shared<Session<TlsStream>>(std::move(socket), *self->tls, self)->Run();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(std::move(socket), self)->Run();
      }
    }
    // Out of file descriptors and the like: keep accepting; the kernel's
    // backlog holds the rest.
    self->Accept();
  });
}

HttpServer::HttpServer(Api& api, ServerOptions options)
    : impl_(std::make_shared<Impl>(api, std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

core::Result<void> HttpServer::Start() {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) {
    return core::InvalidArgument(
        core::StrCat("listen address ", core::Quote(impl_->options.host), ": ", ec.message()));
  }
  if (!impl_->options.tls_cert.empty() || !impl_->options.tls_key.empty()) {
    impl_->tls.emplace(asio::ssl::context::tls_server);
    auto& ctx = *impl_->tls;
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    ctx.use_certificate_chain_file(impl_->options.tls_cert, ec);
    if (ec) {
      return core::InvalidArgument(core::StrCat("tls.cert ", impl_->options.tls_cert, ": ",
                                                ec.message()), "tls.cert");
    }
    ctx.use_private_key_file(impl_->options.tls_key, asio::ssl::context::pem, ec);
    if (ec) {
      return core::InvalidArgument(core::StrCat("tls.key ", impl_->options.tls_key, ": ",
                                                ec.message()), "tls.key");
    }
  }
  tcp::endpoint endpoint(address, static_cast<unsigned short>(impl_->options.port));
  impl_->acceptor.emplace(asio::make_strand(impl_->ioc));
  auto& acc = *impl_->acceptor;
  if (acc.open(endpoint.protocol(), ec); !ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return core::Fail(core::ErrorCode::kUnavailable,
                      core::StrCat("cannot listen on ", impl_->options.host, ":",
                                   impl_->options.port, ": ", ec.message()));
  }
  impl_->bound_port = acc.local_endpoint().port();
  // Connections stay below the open-file limit, with room for the rest.
  if (rlimit nofile{}; getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
    const std::size_t room = nofile.rlim_cur > 2048 ? nofile.rlim_cur - 1024 : nofile.rlim_cur / 2;
    impl_->options.max_connections = std::min(impl_->options.max_connections, room);
  }
  impl_->workers.emplace(static_cast<std::size_t>(std::max(1, impl_->options.workers)));
  impl_->git_pool.emplace(static_cast<std::size_t>(std::max(1, impl_->options.git_threads)));
  impl_->Accept();
  for (int i = 0; i < std::max(1, impl_->options.io_threads); ++i) {
    impl_->io_threads.emplace_back([impl = impl_.get()] { impl->ioc.run(); });
  }
  impl_->started = true;
  return {};
}

int HttpServer::port() const { return impl_->bound_port; }

void HttpServer::Stop(std::chrono::milliseconds grace) {
  if (!impl_->started || impl_->stopping.exchange(true)) return;
  // Close the listener on its strand, and wait for that, so no connection
  // is accepted during the grace period.
  std::promise<void> closed;
  asio::post(impl_->acceptor->get_executor(), [impl = impl_.get(), &closed] {
    beast::error_code ec;
    impl->acceptor->close(ec);
    closed.set_value();
  });
  closed.get_future().wait_for(grace);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl_->ioc.stop();
  for (auto& t : impl_->io_threads) t.join();
  impl_->io_threads.clear();
  impl_->workers->join();
  impl_->git_pool->join();
  // The Api's own git work, which outlives requests: it ends here, while
  // what it uses is still there.
  impl_->api.Shutdown();
}

}  // namespace sluss::api
