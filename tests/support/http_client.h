#pragma once

// A deliberately small blocking HTTP/1.1 client over POSIX sockets, for
// integration tests that need to misbehave (slow, huge, many connections),
// which a polite client library would not do.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>

namespace sluss::testing {

struct RawResponse {
  int status = 0;  // 0: the connection closed without an answer
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

inline int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

inline bool SendAll(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads one response (Content-Length framed). Gives up after `timeout`.
inline RawResponse ReadResponse(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  RawResponse r;
  std::string buf;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t header_end = std::string::npos;
  std::size_t need = 0;
  while (true) {
    if (header_end == std::string::npos) {
      header_end = buf.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        std::string head = buf.substr(0, header_end);
        if (head.size() > 12) r.status = std::stoi(head.substr(9, 3));
        std::size_t pos = head.find("\r\n");
        while (pos != std::string::npos) {
          std::size_t next = head.find("\r\n", pos + 2);
          std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
          auto colon = line.find(':');
          if (colon != std::string::npos) {
            std::string name = line.substr(0, colon);
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            std::string value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            r.headers[name] = value;
          }
          pos = next;
        }
        need = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
      }
    }
    if (header_end != std::string::npos && buf.size() >= header_end + 4 + need) {
      r.body = buf.substr(header_end + 4, need);
      return r;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return RawResponse{};
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return RawResponse{};
    char chunk[65536];
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
      if (header_end == std::string::npos) r.status = 0;
      return header_end == std::string::npos ? RawResponse{} : r;
    }
    buf.append(chunk, static_cast<std::size_t>(n));
  }
}

// True when the peer closed the connection (recv returns 0) within `timeout`.
inline bool WaitClosed(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char chunk[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now()).count());
    if (poll(&p, 1, std::max(1, left)) <= 0) continue;
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return true;
  }
  return false;
}

inline std::string Get(const std::string& path, const std::string& token = "",
                       bool keep_alive = true) {
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  if (!keep_alive) req += "Connection: close\r\n";
  return req + "\r\n";
}

}  // namespace sluss::testing
