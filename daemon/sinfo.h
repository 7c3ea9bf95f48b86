#pragma once

// A Slurm pool's capacity as `sinfo -h -o "%P %D %c %m"` prints it (partition,
// nodes, CPUs per node, memory per node in MB), for a pool whose config does
// not give it. Text in, totals out; running sinfo is the caller's.

#include <string_view>

#include "core/error.h"
#include "core/types.h"

namespace sluss::daemon {

inline constexpr const char* kSinfoFormat = "%P %D %c %m";

// The CPUs and memory of `partition`'s nodes summed (empty: Slurm's
// default partition, marked '*'); gpus 0. A "+" (nodes of several sizes)
// counts the smallest. kNotFound when the partition is not listed;
// kInvalidArgument when a line does not read.
core::Result<core::Resources> SinfoCapacity(std::string_view text, std::string_view partition);

}  // namespace sluss::daemon
