#pragma once

// How deep a cycle looks into the queue, as Slurm's default_queue_depth:
// a cycle brought on by an event (a job ended, one was submitted) plans the
// first `depth` ready jobs of each project, in the planner's own order
// within a project (priority, then age), and every job that waits for
// something other than resources or a quota (its needs, a hold, a retry
// backoff, no reason yet). The jobs behind keep their reasons until the
// next full cycle, which the engine runs at a bounded interval. With
// 10,000 jobs waiting behind a 2-CPU node, an end-and-start cycle then
// plans a thousand, not ten thousand.
//
// Pure: no I/O, no clock.

#include <cstddef>
#include <map>
#include <vector>

#include "core/ids.h"
#include "core/time.h"
#include "scheduler/planner.h"

namespace sluss::scheduler {

// The positions in `pending` of the jobs a cycle bounded by `depth` plans,
// ascending. `needs`: the status of the jobs that pending jobs need (a job
// whose needs have not all succeeded is always planned: its reason or its
// failure must follow them). `depth` <= 0: every job.
std::vector<std::size_t> FirstInLine(const std::vector<PendingJob>& pending,
                                     const std::map<core::JobId, NeedStatus>& needs, int depth,
                                     core::TimePoint now);

}  // namespace sluss::scheduler
