#pragma once

// ImageRegistry: slussd's ImageService: the images of slussd's config, resolved at
// start, and those admins register through the API, kept in the store
// (setting "images") so that they survive a restart.

#include <map>
#include <mutex>
#include <string>

#include "core/image_service.h"
#include "core/store.h"

namespace sluss::executors {

// An image as an admin configured it.
struct ImageSource {
  std::string rootfs;  // a directory holding the image's root file system
  bool host = false;   // the `host` image: this host's /usr, read-only
};

class ImageRegistry final : public core::ImageService {
 public:
  // `images_dir`: where the host image is made and hash caches are kept.
  ImageRegistry(core::Store& store, std::string images_dir);
  // Resolves the config's images and loads the registered ones. Errors
  // name the image.
  core::Result<void> Load(const std::map<std::string, ImageSource>& configured,
                          core::TimePoint now);

  std::vector<core::Image> List() const override;
  std::optional<core::Image> Find(std::string_view name) const override;
  std::optional<core::ImageContents> Contents(std::string_view name) const override;
  core::Result<core::Image> Register(std::string_view name, std::string_view rootfs,
                                     std::string_view by, core::TimePoint now) override;

 private:
  // Hashes the image and reads its contents into contents_ (under mu_).
  core::Result<core::Image> Resolve(const std::string& name, const std::string& rootfs,
                                    bool host);
  core::Result<void> Save(core::TimePoint now);  // under mu_

  core::Store& store_;
  std::string images_dir_;
  mutable std::mutex mu_;
  std::map<std::string, core::Image, std::less<>> images_;
  std::map<std::string, core::ImageContents, std::less<>> contents_;  // by image name
  std::optional<core::Image> host_;  // made once
  std::optional<core::ImageContents> host_contents_;
};

}  // namespace sluss::executors
