#include "api/internal/web.h"

namespace sluss::api::internal {

HttpResponse WebResponse(const WebAsset& asset) {
  HttpResponse r;
  r.content_type = std::string(asset.content_type);
  r.body = std::string(asset.body);
  r.headers = {
      {"Content-Security-Policy",
       "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
  };
  return r;
}

}  // namespace sluss::api::internal
