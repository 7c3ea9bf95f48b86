#pragma once

// HTTP/1.1 for the Api over one io_context (Boost.Beast). Each connection
// runs on its own strand; every read has a deadline; header and body sizes
// are limited (431, 413); connections are kept alive. Api::Handle runs on a
// bounded worker pool, never on an I/O thread; when the pool's queue is full
// the server answers 503 at once.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "api/api.h"
#include "core/error.h"

namespace sluss::api {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8470;  // 0: any free port (see HttpServer::port)
  int io_threads = 1;
  int workers = 4;
  std::size_t max_queued = 1024;  // requests waiting for a worker
  // The whole request (headers and body) must arrive within this; a client
  // that trickles bytes is cut off, whatever it sends.
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};  // between keep-alive requests
  std::size_t header_limit = 16 * 1024;
  std::size_t body_limit = 1 << 20;
  // Both set: HTTPS only (TLS 1.2 or newer), with this PEM certificate chain
  // and key.
  std::string tls_cert;
  std::string tls_key;
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
