#pragma once

// The web page slussd serves at "/": one HTML file, one script, one style
// sheet (api/web/), compiled into the binary by CMake (api/web.cc.in). The
// page reads only the documented /v1 routes, as any script could.

#include <optional>
#include <string_view>

#include "api/http.h"

namespace sluss::api::internal {

struct WebAsset {
  std::string_view content_type;
  std::string_view body;
};

// The asset at `path` ("/", "/web/app.js", "/web/app.css"), if any.
std::optional<WebAsset> FindWebAsset(std::string_view path);

// The asset as a response with the page's strict headers: a content
// security policy allowing only this origin's script and styles (no inline
// code, no framing, no other host), nosniff and no referrer.
HttpResponse WebResponse(const WebAsset& asset);

}  // namespace sluss::api::internal
