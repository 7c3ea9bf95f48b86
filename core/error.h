#pragma once

// Error values. Expected failures are values (Result<T>), never exceptions:
// a library exception is caught at the edge of the module that called the
// library and turned into an Error there.

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace sluss::core {

// Canonical error codes. The API maps each to one HTTP status and prints the
// name (ErrorCodeName) as `error.code`.
enum class ErrorCode {
  kInvalidArgument,     // the caller's input is wrong; fix it and retry
  kNotFound,            // no such thing (or the caller may not know it exists)
  kAlreadyExists,       // a thing with that name or id exists
  kFailedPrecondition,  // the system is not in a state where this can happen
  kConflict,            // someone changed the thing concurrently
  kPermissionDenied,    // the caller may not do this
  kUnauthenticated,     // no valid credentials
  kResourceExhausted,   // a quota or a size limit was hit
  kUnavailable,         // try again later
  kInternal,            // a bug or a broken invariant; logged, never detailed
};

std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  // A sentence a person can act on: what is wrong and, where it helps, what
  // to do. Never a stack trace or a host path that the caller must not see.
  std::string message;
  // Optional: which input field was wrong ("resources.memory").
  std::string field;

  std::string ToString() const;
};

template <typename T>
using Result = std::expected<T, Error>;

// Shorthands for building the unexpected branch: `return Fail(...)`.
inline std::unexpected<Error> Fail(ErrorCode code, std::string message,
                                   std::string field = {}) {
  return std::unexpected<Error>(
      Error{code, std::move(message), std::move(field)});
}
inline std::unexpected<Error> InvalidArgument(std::string message,
                                              std::string field = {}) {
  return Fail(ErrorCode::kInvalidArgument, std::move(message),
              std::move(field));
}
inline std::unexpected<Error> NotFound(std::string message) {
  return Fail(ErrorCode::kNotFound, std::move(message));
}
inline std::unexpected<Error> Internal(std::string message) {
  return Fail(ErrorCode::kInternal, std::move(message));
}

}  // namespace sluss::core
