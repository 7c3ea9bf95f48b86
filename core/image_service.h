#pragma once

// The ImageService port: the approved images, by name. slussd implements it
// (executors/image_registry.h): images from its config, and those an admin
// registers through the API, each identified by its manifest digest.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/image_contents.h"
#include "core/time.h"
#include "core/types.h"

namespace sluss::core {

class ImageService {
 public:
  virtual ~ImageService() = default;
  virtual std::vector<Image> List() const = 0;
  virtual std::optional<Image> Find(std::string_view name) const = 0;
  // What the image `name` holds, read from the image itself when it was
  // resolved (at start) or registered; nullopt for an unknown name.
  virtual std::optional<ImageContents> Contents(std::string_view name) const = 0;
  // Hashes the directory `rootfs` (blocking: seconds for a large image) and
  // approves it as `name`, replacing an image of that name registered
  // through the API (a new digest: jobs that use it get new cache keys).
  // kInvalidArgument naming what is wrong (not a directory, no mount
  // points); kFailedPrecondition for a name the config defines.
  virtual Result<Image> Register(std::string_view name, std::string_view rootfs,
                                 std::string_view by, TimePoint now) = 0;
};

}  // namespace sluss::core
