#include "provenance/dataset_registry.h"

#include <sys/stat.h>

#include <filesystem>

#include "core/strings.h"
#include "logging/log.h"
#include "provenance/dataset.h"

namespace sluss::provenance {

using logging::Log;
using logging::LogLevel;

using core::StrCat;

namespace {

std::string Key(std::string_view name, std::string_view version) {
  return StrCat(name, "/", version);
}

// Names and versions become directory names: keep them plain.
core::Result<void> CheckName(std::string_view value, const char* field) {
  if (value.empty() || value.size() > 64)
    return core::InvalidArgument(StrCat(field, " must have 1 to 64 characters"), field);
  for (char c : value)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return core::InvalidArgument(
          StrCat(field, " may hold letters, digits, '-', '_' and '.' only"), field);
  if (value[0] == '.') return core::InvalidArgument(StrCat(field, " may not start with '.'"), field);
  return {};
}

}  // namespace

struct DatasetRegistry::Task {
  core::DatasetVersion dataset;
  std::string actor;
  bool full_verify = false;
  provenance::HashProgress progress;
  std::atomic<bool> done{false};
  std::thread thread;
};

DatasetRegistry::DatasetRegistry(core::Store& store, const core::Clock& clock, std::string dir,
                                 int threads)
    : store_(store), clock_(clock), dir_(std::move(dir)), threads_(std::max(1, threads)) {}

DatasetRegistry::~DatasetRegistry() {
  std::map<std::string, std::unique_ptr<Task>> tasks;
  {
    std::lock_guard lock(mu_);
    tasks.swap(tasks_);
  }
  for (auto& [key, t] : tasks) {
    t->progress.cancel = true;
    if (t->thread.joinable()) t->thread.join();
  }
}

std::string DatasetRegistry::ManifestDir(const core::DatasetVersion& d) const {
  return StrCat(dir_, "/", d.name, "/", d.version);
}

void DatasetRegistry::Resume() {
  auto all = store_.ListDatasets();
  if (!all) return;
  for (const auto& d : *all)
    if (d.state == core::DatasetVersion::State::kHashing) {
      Log(LogLevel::kInfo, StrCat("dataset ", d.name, " ", d.version,
                                  ": hashing again (slussd stopped in the middle)"));
      Start(d, "slussd", false);
    }
}

core::Result<core::DatasetVersion> DatasetRegistry::Register(std::string_view name,
                                                             std::string_view version,
                                                             std::string_view path,
                                                             std::string_view actor) {
  if (auto r = CheckName(name, "name"); !r) return std::unexpected(r.error());
  if (auto r = CheckName(version, "version"); !r) return std::unexpected(r.error());
  if (path.empty() || path[0] != '/')
    return core::InvalidArgument("path must be an absolute path on the nodes", "path");
  std::string clean = std::filesystem::path(path).lexically_normal().string();
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  struct stat st;
  if (::stat(clean.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return core::InvalidArgument(StrCat("path: ", clean, " is not a directory on this node"),
                                 "path");
  core::DatasetVersion d;
  d.name = std::string(name);
  d.version = std::string(version);
  d.path = clean;
  d.registered_by = std::string(actor);
  d.registered_at = clock_.Now();
  if (auto r = store_.CreateDataset(d, clock_.Now()); !r) return std::unexpected(r.error());
  Start(d, std::string(actor), false);
  return d;
}

core::Result<core::DatasetVersion> DatasetRegistry::Verify(std::string_view name,
                                                           std::string_view version,
                                                           std::string_view actor) {
  auto d = store_.GetDataset(name, version);
  if (!d) return d;
  if (d->state == core::DatasetVersion::State::kHashing)
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("dataset ", name, " ", version, " is still being hashed"));
  if (d->state == core::DatasetVersion::State::kFailed)
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("dataset ", name, " ", version, " failed to hash: ", d->error,
                             "; register a new version"));
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(Key(name, version));
    if (it != tasks_.end() && !it->second->done)
      return core::Fail(core::ErrorCode::kFailedPrecondition,
                        StrCat("dataset ", name, " ", version, " is being checked already"));
  }
  Start(*d, std::string(actor), true);
  return d;
}

core::Result<core::DatasetVersion> DatasetRegistry::Get(std::string_view name,
                                                        std::string_view version) {
  auto d = store_.GetDataset(name, version);
  if (!d) return d;
  std::lock_guard lock(mu_);
  auto it = tasks_.find(Key(name, version));
  if (it != tasks_.end() && !it->second->done) {
    d->hashed_bytes = it->second->progress.bytes_done;
    if (d->bytes == 0) d->bytes = it->second->progress.bytes_total;
    if (d->files == 0) d->files = it->second->progress.files_total;
  }
  return d;
}

core::Result<std::vector<core::DatasetVersion>> DatasetRegistry::List() {
  auto all = store_.ListDatasets();
  if (!all) return all;
  std::lock_guard lock(mu_);
  for (auto& d : *all) {
    auto it = tasks_.find(Key(d.name, d.version));
    if (it != tasks_.end() && !it->second->done) d.hashed_bytes = it->second->progress.bytes_done;
  }
  return all;
}

void DatasetRegistry::Start(core::DatasetVersion d, std::string actor, bool full_verify) {
  std::lock_guard lock(mu_);
  auto& slot = tasks_[Key(d.name, d.version)];
  if (slot) {
    // A finished task of the same version: its thread is done; reap it.
    if (slot->thread.joinable()) slot->thread.join();
  }
  slot = std::make_unique<Task>();
  slot->dataset = std::move(d);
  slot->actor = std::move(actor);
  slot->full_verify = full_verify;
  Task* task = slot.get();
  task->thread = std::thread([this, task] { RunTask(task); });
}

void DatasetRegistry::RunTask(Task* task) {
  core::DatasetVersion d = task->dataset;
  const std::string what = StrCat("dataset ", d.name, " ", d.version);
  if (task->full_verify) {
    auto manifest = provenance::ReadManifest(ManifestDir(d));
    core::Result<void> ok = manifest ? provenance::VerifyContent(d.path, *manifest, threads_,
                                                                 &task->progress)
                                     : core::Result<void>(std::unexpected(manifest.error()));
    if (task->progress.cancel) {
      task->done = true;
      return;
    }
    d.error = ok ? std::string() : StrCat("changed since it was hashed: ", ok.error().message);
    if (ok) d.verified_at = clock_.Now();
    d.hashed_bytes = task->progress.bytes_done;
    if (auto r = store_.UpdateDataset(d, task->actor, clock_.Now()); !r)
      Log(LogLevel::kError, StrCat(what, ": ", r.error().message));
    Log(ok ? LogLevel::kInfo : LogLevel::kWarn,
        StrCat(what, ": full check ", ok ? "matches" : d.error));
    task->done = true;
    return;
  }
  auto start = std::chrono::steady_clock::now();
  auto manifest = provenance::HashDirectory(d.path, threads_, &task->progress);
  if (task->progress.cancel) {  // slussd is stopping: the next start hashes again
    task->done = true;
    return;
  }
  if (manifest) {
    if (auto w = provenance::WriteManifest(ManifestDir(d), *manifest); !w) manifest = std::unexpected(w.error());
  }
  if (manifest) {
    d.state = core::DatasetVersion::State::kReady;
    d.id = manifest->Id();
    d.files = static_cast<std::int64_t>(manifest->files.size());
    d.bytes = manifest->Bytes();
    d.hashed_bytes = d.bytes;
    d.verified_at = clock_.Now();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Log(LogLevel::kInfo, StrCat(what, ": ", d.files, " files, ", d.bytes, " bytes hashed in ",
                                static_cast<int>(s * 1000), " ms: ", d.id));
  } else {
    d.state = core::DatasetVersion::State::kFailed;
    d.error = manifest.error().message;
    Log(LogLevel::kWarn, StrCat(what, ": ", d.error));
  }
  if (auto r = store_.UpdateDataset(d, task->actor, clock_.Now()); !r)
    Log(LogLevel::kError, StrCat(what, ": ", r.error().message));
  task->done = true;
}

core::Result<core::DatasetVersion> DatasetRegistry::Check(std::string_view name,
                                                          std::string_view version) {
  auto d = store_.GetDataset(name, version);
  if (!d)
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("dataset ", name, " version ", version, " is not registered"));
  if (d->state != core::DatasetVersion::State::kReady)
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("dataset ", name, " version ", version, " is ", core::Name(d->state),
                             d->error.empty() ? std::string() : StrCat(": ", d->error)));
  if (!d->error.empty())
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("dataset ", name, " version ", version, " ", d->error,
                             "; a version never changes: a steward registers a new one"));
  auto manifest = provenance::ReadManifest(ManifestDir(*d));
  if (!manifest || manifest->Id() != d->id)
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("the manifest of dataset ", name, " version ", version,
                             " is missing or damaged; ask a steward to run 'sluss dataset verify'"));
  if (auto r = provenance::CheckUnchanged(d->path, *manifest); !r)
    return core::Fail(core::ErrorCode::kFailedPrecondition,
                      StrCat("dataset ", name, " version ", version, " at ", d->path,
                             " has changed since it was registered (", r.error().message,
                             "); a version never changes: a steward registers a new one"));
  return d;
}

}  // namespace sluss::provenance
