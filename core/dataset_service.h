#pragma once

// The DatasetService port: registering dataset versions (hashing them takes
// time, so it runs in the background) and re-checking them. provenance/
// implements it (provenance/dataset_registry.h); the API calls it, and the
// job preparer checks versions with it at every start.

#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/permit.h"

namespace sluss::core {

class DatasetService {
 public:
  virtual ~DatasetService() = default;
  // Registers `name` + `version` as the read-only directory `path` and
  // starts hashing it: the version is `hashing`, then `ready` with its id
  // (or `failed` with the reason). kInvalidArgument naming the field;
  // kAlreadyExists for a version registered before.
  virtual Result<DatasetVersion> Register(std::string_view name, std::string_view version,
                                          std::string_view path, std::string_view actor) = 0;
  // Starts a full re-hash of a ready version; its outcome is audited and
  // shows in verified_at or error. kNotFound; kFailedPrecondition while it
  // is hashing.
  virtual Result<DatasetVersion> Verify(std::string_view name, std::string_view version,
                                        std::string_view actor) = 0;
  // With live progress (hashed_bytes) while hashing.
  virtual Result<DatasetVersion> Get(std::string_view name, std::string_view version) = 0;
  virtual Result<std::vector<DatasetVersion>> List() = 0;
  // The quick check at every job start: the version if it is ready and
  // unchanged on disk (same files, sizes, mtimes); kFailedPrecondition
  // naming the first difference otherwise.
  virtual Result<DatasetVersion> Check(std::string_view name, std::string_view version) = 0;
};

}  // namespace sluss::core
