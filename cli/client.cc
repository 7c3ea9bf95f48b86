#include <cctype>
#include "cli/client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/strings.h"
#include "core/yaml.h"

namespace sluss::cli {

using core::StrCat;

core::Result<Settings> LoadSettings(std::string server_flag, std::string token_flag) {
  Settings s;
  s.terminal = isatty(STDOUT_FILENO);
  s.color = s.terminal && !std::getenv("NO_COLOR");
  const char* home = std::getenv("HOME");
  std::string path = std::getenv("XDG_CONFIG_HOME")
                         ? StrCat(std::getenv("XDG_CONFIG_HOME"), "/sluss/config")
                         : StrCat(home ? home : "", "/.config/sluss/config");
  std::ifstream in(path);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    auto doc = core::ParseYaml(ss.str());
    if (!doc) {
      return core::InvalidArgument(StrCat(path, ":", doc.error().pos.line, ":",
                                          doc.error().pos.column, ": ", doc.error().message));
    }
    if (doc->IsMap()) {
      for (const auto& [k, v] : doc->entries) {
        if (!k.IsScalar() || !v.IsScalar()) continue;
        if (k.value == "server") s.server = v.value;
        else if (k.value == "token") s.token = v.value;
        else return core::InvalidArgument(StrCat(path, ":", k.pos.line, ":", k.pos.column,
                                                 ": unknown key ", core::Quote(k.value),
                                                 " (expected server or token)"));
      }
    }
  }
  if (const char* v = std::getenv("SLUSS_SERVER"); v && *v) s.server = v;
  if (const char* v = std::getenv("SLUSS_TOKEN"); v && *v) s.token = v;
  if (!server_flag.empty()) s.server = server_flag;
  if (!token_flag.empty()) s.token = token_flag;
  while (!s.server.empty() && s.server.back() == '/') s.server.pop_back();
  if (s.server.find("://") == std::string::npos) s.server = "http://" + s.server;
  return s;
}

namespace {
struct Sink {
  CURL* curl;
  std::string* text;
  const std::function<void(std::string_view)>* stream;
};
std::size_t Append(char* data, std::size_t size, std::size_t n, void* out) {
  auto* sink = static_cast<Sink*>(out);
  long status = 0;
  if (*sink->stream) curl_easy_getinfo(sink->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status == 200) {
    (*sink->stream)(std::string_view(data, size * n));
  } else {
    sink->text->append(data, size * n);
  }
  return size * n;
}
std::size_t Header(char* data, std::size_t size, std::size_t n, void* out) {
  std::string_view line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.remove_suffix(1);
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = std::string(value);
  }
  return size * n;
}
}  // namespace

core::Result<ApiReply> Client::Call(std::string_view method, std::string_view path,
                                    const nlohmann::json* body,
                                    const std::function<void(std::string_view)>& stream) const {
  CURL* curl = curl_easy_init();
  if (!curl) return core::Internal("cannot start libcurl");
  std::string url = StrCat(settings_.server, path);
  std::string response;
  std::string payload = body ? body->dump() : std::string();
  std::string method_s(method);
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  std::string auth;
  if (!settings_.token.empty()) {
    auth = StrCat("Authorization: Bearer ", settings_.token);
    headers = curl_slist_append(headers, auth.c_str());
  }
  if (body) headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_s.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
  } else if (method_s != "GET") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
  }
  Sink sink{curl, &response, &stream};
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  std::map<std::string, std::string> reply_headers;
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, Header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply_headers);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, stream ? 0L : 60L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  // A private CA for slussd's certificate: SLUSS_CA_CERT=/path/ca.pem.
  if (const char* ca = std::getenv("SLUSS_CA_CERT"); ca && *ca) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
  }
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    return core::Fail(core::ErrorCode::kUnavailable,
                      StrCat("cannot reach slussd at ", settings_.server, ": ",
                             curl_easy_strerror(rc),
                             ". Is it running? Set the address with --server or SLUSS_SERVER"));
  }
  ApiReply reply;
  reply.status = static_cast<int>(status);
  reply.body = nlohmann::json::parse(response, nullptr, false);
  if (reply.body.is_discarded()) reply.body = nullptr;
  reply.text = std::move(response);
  reply.headers = std::move(reply_headers);
  return reply;
}

}  // namespace sluss::cli
