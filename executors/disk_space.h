#pragma once

// Free space on the file systems slussd writes to, against the reserve an
// admin sets (node.disk_reserve).

#include <cstdint>
#include <string>
#include <vector>

namespace sluss::executors {

// "" when every one of `dirs` has more than `reserve_bytes` free (for
// unprivileged writers: f_bavail); else the reason jobs wait with, naming
// the first short one: "waiting_on_disk: 12 MiB free on /var/lib/sluss,
// 1 GiB reserved". A directory that cannot be looked at counts as short.
// `reserve_bytes` 0: never short.
std::string DiskShortfall(const std::vector<std::string>& dirs, std::int64_t reserve_bytes);

}  // namespace sluss::executors
