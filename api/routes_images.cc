// Route handlers: what an image holds.

#include <nlohmann/json.hpp>

#include "api/internal/route_helpers.h"
#include "api/internal/routes.h"
#include "api/internal/views.h"
#include "core/strings.h"

namespace sluss::api::internal {

using core::StrCat;
using nlohmann::json;

// GET /v1/images/{name}: the image as in the list, with its packages and
// versions (Debian's, Python's, R's) and its interpreters, as read from the
// image itself; ?ecosystem=deb|python|r keeps one kind.
HttpResponse ShowImage(Context& c) {
  const std::string& name = c.params.at("name");
  std::optional<core::Image> image;
  std::optional<core::ImageContents> contents;
  if (c.image_service) {
    image = c.image_service->Find(name);
    contents = c.image_service->Contents(name);
  } else {
    for (const auto& i : c.images)
      if (i.name == name) image = i;
  }
  if (!image) return NotFound(StrCat("image ", core::Quote(name)));
  auto q = c.req.query.find("ecosystem");
  std::string ecosystem = q == c.req.query.end() ? "" : q->second;
  if (!ecosystem.empty() && ecosystem != "deb" && ecosystem != "python" && ecosystem != "r")
    return FieldError("ecosystem", "one of deb, python, r");
  json out = View(*image);
  json packages = json::array();
  json interpreters = json::array();
  json notes = json::array();
  if (contents) {
    for (const auto& p : contents->packages)
      if (ecosystem.empty() || p.ecosystem == ecosystem)
        packages.push_back({{"ecosystem", p.ecosystem}, {"name", p.name}, {"version", p.version}});
    for (const auto& i : contents->interpreters) interpreters.push_back(i);
    for (const auto& n : contents->notes) notes.push_back(n);
  } else {
    notes.push_back("this server does not read images' contents");
  }
  out["packages"] = std::move(packages);
  out["interpreters"] = std::move(interpreters);
  out["notes"] = std::move(notes);
  return Json(200, out);
}

}  // namespace sluss::api::internal
