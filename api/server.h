#pragma once

// HTTP/1.1 for the Api over one io_context (Boost.Beast). Each connection
// runs on its own strand; every read has a deadline; header and body sizes
// are limited (431, 413); connections are kept alive. Api::Handle runs on a
// bounded worker pool, never on an I/O thread; when the pool's queue is full
// the server answers 503 at once. Bodies in flight and open connections
// are capped (ServerOptions::max_body_bytes, max_connections).

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "api/api.h"
#include "api/git_http.h"
#include "core/error.h"

namespace sluss::api {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8470;  // 0: any free port (see HttpServer::port)
  int io_threads = 1;
  int workers = 4;
  std::size_t max_queued = 1024;  // requests waiting for a worker
  // The whole request (headers and body) must arrive within this from its
  // first byte, on a kept-alive connection too; a client that trickles
  // bytes is cut off, whatever it sends.
  std::chrono::milliseconds read_timeout{10'000};
  // Between keep-alive requests, until the next one's first byte.
  std::chrono::milliseconds idle_timeout{60'000};
  std::size_t header_limit = 16 * 1024;
  std::size_t body_limit = 1 << 20;
  // Request bodies in flight, all connections together: a request's body
  // (its Content-Length, or body_limit when chunked) is reserved when its
  // header arrives and released when it has been answered. A request that
  // would go over is answered 503 with Retry-After, unread.
  std::size_t max_body_bytes = 64 << 20;
  // Open connections; beyond, new ones are closed at once, and on_warning
  // says so (at most once a minute). Start lowers it to the open-file
  // limit less 1,024 (for the store, jobs and logs).
  std::size_t max_connections = 10'000;
  // Where the server says what an operator should know (slussd logs it).
  std::function<void(const std::string&)> on_warning;
  // Both set: HTTPS only (TLS 1.2 or newer), with this PEM certificate chain
  // and key.
  std::string tls_cert;
  std::string tls_key;
  // Hosted repositories over git's smart HTTP at /git/ (api/git_http.h);
  // git.repos_dir empty: not served. Each request is authorized from its
  // header (Api::AuthorizeGit) on a worker; its body is then spooled to a
  // file, never held in memory, and `git http-backend` is started on
  // threads of its own (git_threads), at most git.max_backends at once, so
  // a push never holds a worker or stalls the API.
  GitHttpOptions git;
  int git_threads = 2;
};

class HttpServer {
 public:
  // `api` must outlive the server.
  HttpServer(Api& api, ServerOptions options);
  ~HttpServer();  // calls Stop
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the I/O threads and workers. kUnavailable when the
  // address cannot be bound; kInvalidArgument when the TLS certificate or
  // key cannot be loaded.
  core::Result<void> Start();
  // The bound port.
  int port() const;
  // Stops accepting, lets requests in flight finish (up to `grace`), closes
  // every connection, joins the threads, then calls Api::Shutdown (which
  // waits for a running git fetch). Idempotent.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

  struct Impl;  // the sockets and threads; opaque to users

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluss::api
