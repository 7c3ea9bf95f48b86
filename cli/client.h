#pragma once

// The CLI's connection to slussd's JSON API (libcurl). The CLI talks to the
// daemon only through this.

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace sluss::cli {

struct Settings {
  std::string server = "http://127.0.0.1:8470";
  std::string token;
  bool json = false;    // --json: print the API's JSON
  bool color = false;   // only on a terminal
  bool terminal = false;  // stdout is a terminal: job logs are printed escaped
};

// Flags override SLUSS_SERVER / SLUSS_TOKEN, which override the config file
// (~/.config/sluss/config, YAML with `server:` and `token:`).
core::Result<Settings> LoadSettings(std::string server_flag, std::string token_flag);

struct ApiReply {
  int status = 0;
  nlohmann::json body;  // null when the body was not JSON
  std::string text;     // the body as received
  std::map<std::string, std::string> headers;  // names in lower case
};

class Client {
 public:
  explicit Client(Settings settings) : settings_(std::move(settings)) {}
  // kUnavailable when slussd cannot be reached; any HTTP status is a reply.
  // With `stream` set, a 200 reply's body goes to it as it arrives (and
  // not into ApiReply::text), with no overall time limit: for streams such
  // as `logs?follow=1`.
  core::Result<ApiReply> Call(std::string_view method, std::string_view path,
                              const nlohmann::json* body = nullptr,
                              const std::function<void(std::string_view)>& stream = {}) const;
  const Settings& settings() const { return settings_; }

 private:
  Settings settings_;
};

}  // namespace sluss::cli
