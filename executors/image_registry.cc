#include "executors/image_registry.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/strings.h"
#include "executors/image_contents.h"
#include "executors/local.h"

namespace sluss::executors {

using core::StrCat;
using nlohmann::json;

ImageRegistry::ImageRegistry(core::Store& store, std::string images_dir)
    : store_(store), images_dir_(std::move(images_dir)) {}

core::Result<core::Image> ImageRegistry::Resolve(const std::string& name,
                                                 const std::string& rootfs, bool host) {
  if (host && host_) {
    core::Image copy = *host_;
    copy.name = name;
    contents_[name] = *host_contents_;
    return copy;
  }
  auto r = executors::ResolveImage(name, rootfs, host, images_dir_ + "/host");
  if (!r) return std::unexpected(r.error());
  core::Image image{name, r->digest, r->rootfs, {}, r->host_binds, host, "config", ""};
  // The host image's /usr is this host's: its packages are the host's.
  contents_[name] = ReadImageContents(host ? "/" : r->rootfs);
  if (host) {
    host_ = image;
    host_contents_ = contents_[name];
  }
  return image;
}

core::Result<void> ImageRegistry::Load(const std::map<std::string, ImageSource>& configured,
                                       core::TimePoint now) {
  std::lock_guard lock(mu_);
  for (const auto& [name, cfg] : configured) {
    auto image = Resolve(name, cfg.rootfs, cfg.host);
    if (!image) return core::Fail(image.error().code, StrCat("image ", name, ": ", image.error().message));
    image->registered_at = now;
    images_[name] = *image;
  }
  auto saved = store_.GetSetting("images");
  if (!saved) return {};
  json all = json::parse(*saved, nullptr, false);
  if (!all.is_object()) return {};
  for (const auto& [name, v] : all.items()) {
    if (images_.contains(name)) continue;  // the config wins
    // Hashed again: the directory may have changed while slussd was down,
    // and the digest must say what jobs will run (the hash cache keeps this
    // cheap).
    auto image = Resolve(name, v.value("rootfs", ""), false);
    if (!image) return core::Fail(image.error().code, StrCat("image ", name, ": ", image.error().message));
    image->source = "api";
    image->registered_by = v.value("by", "");
    image->registered_at = core::FromUnixMillis(v.value("at", std::int64_t{0}));
    images_[name] = *image;
  }
  return {};
}

std::vector<core::Image> ImageRegistry::List() const {
  std::lock_guard lock(mu_);
  std::vector<core::Image> out;
  for (const auto& [_, i] : images_) out.push_back(i);
  return out;
}

std::optional<core::Image> ImageRegistry::Find(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = images_.find(name);
  if (it == images_.end()) return std::nullopt;
  return it->second;
}

std::optional<core::ImageContents> ImageRegistry::Contents(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = contents_.find(name);
  if (it == contents_.end()) return std::nullopt;
  return it->second;
}

core::Result<core::Image> ImageRegistry::Register(std::string_view name, std::string_view rootfs,
                                                  std::string_view by, core::TimePoint now) {
  const std::string n(name), root(rootfs);
  if (n.empty() || n.size() > 63 ||
      n.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._-") != std::string::npos ||
      !std::isalnum(static_cast<unsigned char>(n[0])))
    return core::InvalidArgument("an image name is 1-63 of [a-z0-9._-], starting with a letter or digit",
                                 "name");
  if (root.empty() || root[0] != '/')
    return core::InvalidArgument("rootfs must be an absolute directory on the node", "rootfs");
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec))
    return core::InvalidArgument(StrCat(root, " is not a directory on this node"), "rootfs");
  {
    std::lock_guard lock(mu_);
    auto it = images_.find(n);
    if (it != images_.end() && it->second.source == "config")
      return core::Fail(core::ErrorCode::kFailedPrecondition,
                        StrCat("image ", n, " is defined in slussd's config; change it there"));
  }
  // Hashing takes a while: not under the lock.
  auto r = executors::ResolveImage(n, root, false, images_dir_ + "/host");
  if (!r) {
    if (r.error().code == core::ErrorCode::kFailedPrecondition)
      return core::InvalidArgument(r.error().message, "rootfs");
    return std::unexpected(r.error());
  }
  core::Image image{n, r->digest, r->rootfs, now, {}, false, "api", std::string(by)};
  auto contents = ReadImageContents(r->rootfs);
  std::lock_guard lock(mu_);
  images_[n] = image;
  contents_[n] = std::move(contents);
  if (auto s = Save(now); !s) return std::unexpected(s.error());
  return image;
}

core::Result<void> ImageRegistry::Save(core::TimePoint now) {
  json all = json::object();
  for (const auto& [name, i] : images_) {
    if (i.source != "api") continue;
    all[name] = {{"rootfs", i.rootfs}, {"digest", i.digest}, {"by", i.registered_by},
                 {"at", core::ToUnixMillis(i.registered_at)}};
  }
  return store_.PutSetting("images", all.dump(), now);
}

}  // namespace sluss::executors
