#pragma once

#include "api/internal/context.h"

// The airlock's routes (api/routes_releases.cc): release requests, their
// reviews and downloads. Each calls core::ReleaseService, which decides.
namespace sluss::api::internal {

HttpResponse ListReleases(Context& c);
HttpResponse CreateRelease(Context& c);
HttpResponse GetRelease(Context& c);
HttpResponse AddReleaseFile(Context& c);
HttpResponse RemoveReleaseFile(Context& c);
HttpResponse DownloadReleaseFile(Context& c);
HttpResponse MoveRelease(Context& c);  // submit, withdraw, review, return...
HttpResponse VoteRelease(Context& c);
HttpResponse GetPermitChecks(Context& c);  // a steward's parameters of the checks
HttpResponse PutPermitChecks(Context& c);

}  // namespace sluss::api::internal
