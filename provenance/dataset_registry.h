#pragma once

// DatasetRegistry: slussd's DatasetService. Each version's manifest
// lives under STATE_DIR/datasets/<name>/<version>/ (manifest-sha256.txt,
// files.txt); its row in the store holds the id. Hashing and full checks
// run on a thread each, `threads` wide; a version left `hashing` by a
// killed slussd is hashed again at the next start.
//
// At every job start, Check(name, version) is the quick check (the same
// files with the same sizes and mtimes as hashed); a changed directory
// stops jobs from starting, with the first difference named.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/dataset_service.h"
#include "core/store.h"
#include "core/time.h"

namespace sluss::provenance {
struct HashProgress;
}

namespace sluss::provenance {

class DatasetRegistry final : public core::DatasetService {
 public:
  // `store` and `clock` must outlive the registry. `dir`: absolute.
  DatasetRegistry(core::Store& store, const core::Clock& clock, std::string dir, int threads);
  ~DatasetRegistry() override;  // cancels and joins hashing threads
  DatasetRegistry(const DatasetRegistry&) = delete;
  DatasetRegistry& operator=(const DatasetRegistry&) = delete;

  // Hashes again what a previous slussd left half hashed.
  void Resume();

  core::Result<core::DatasetVersion> Register(std::string_view name, std::string_view version,
                                              std::string_view path,
                                              std::string_view actor) override;
  core::Result<core::DatasetVersion> Verify(std::string_view name, std::string_view version,
                                            std::string_view actor) override;
  core::Result<core::DatasetVersion> Get(std::string_view name, std::string_view version) override;
  core::Result<std::vector<core::DatasetVersion>> List() override;

  core::Result<core::DatasetVersion> Check(std::string_view name,
                                           std::string_view version) override;

 private:
  struct Task;
  void Start(core::DatasetVersion d, std::string actor, bool full_verify);
  void RunTask(Task* task);
  std::string ManifestDir(const core::DatasetVersion& d) const;

  core::Store& store_;
  const core::Clock& clock_;
  const std::string dir_;
  const int threads_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Task>> tasks_;  // GUARDED_BY(mu_), by "name/version"
};

}  // namespace sluss::provenance
