#pragma once

#include "api/internal/context.h"

// The route handlers, one per route (api/api.cc lists them with their roles).
namespace sluss::api::internal {

HttpResponse Whoami(Context& c);
HttpResponse GitHook(Context& c);
HttpResponse GetGitRequest(Context& c);
HttpResponse CreateWebhook(Context& c);
HttpResponse ListProjects(Context& c);
HttpResponse CreateProject(Context& c);
HttpResponse GetProject(Context& c);
HttpResponse PatchProject(Context& c);
HttpResponse GetQuota(Context& c);
HttpResponse PutQuota(Context& c);
HttpResponse GetUsage(Context& c);
HttpResponse ListMembers(Context& c);
HttpResponse AddMember(Context& c);
HttpResponse RemoveMember(Context& c);
HttpResponse ListRuns(Context& c);
HttpResponse ListJobs(Context& c);
HttpResponse GetRun(Context& c);
HttpResponse StartRun(Context& c);
HttpResponse CancelRun(Context& c);
HttpResponse GetJob(Context& c);
HttpResponse ListJobEvents(Context& c);
HttpResponse JobLogs(Context& c);
HttpResponse CancelJob(Context& c);
HttpResponse RetryJob(Context& c);
HttpResponse HoldJob(Context& c);
HttpResponse ReleaseJob(Context& c);
HttpResponse ListTokens(Context& c);
HttpResponse CreateToken(Context& c);
HttpResponse RevokeToken(Context& c);
HttpResponse ListImages(Context& c);
HttpResponse RegisterImage(Context& c);
HttpResponse ShowImage(Context& c);
HttpResponse ListNodes(Context& c);
HttpResponse DrainNode(Context& c);
HttpResponse ResumeNode(Context& c);
HttpResponse GetQueue(Context& c);
HttpResponse PauseQueue(Context& c);
HttpResponse ResumeQueue(Context& c);
HttpResponse PauseProject(Context& c);
HttpResponse ResumeProject(Context& c);
HttpResponse ListDatasets(Context& c);
HttpResponse RegisterDataset(Context& c);
HttpResponse GetDataset(Context& c);
HttpResponse VerifyDataset(Context& c);
HttpResponse ListPermits(Context& c);
HttpResponse GrantPermit(Context& c);
HttpResponse GetPermit(Context& c);
HttpResponse RevokePermit(Context& c);
HttpResponse RunProvenance(Context& c);
HttpResponse RunOutputs(Context& c);
HttpResponse JobProvenance(Context& c);
HttpResponse ListAudit(Context& c);
HttpResponse ListAuditCheckpoints(Context& c);
HttpResponse AuditProof(Context& c);
HttpResponse VerifyAudit(Context& c);

}  // namespace sluss::api::internal
