#include "sandbox/oci.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/strings.h"

namespace sluss::sandbox {
namespace {

using core::StrCat;
using nlohmann::json;

// Syscalls a job may make. Derived from the allowlists of Docker and
// Podman, with everything removed that an analysis has no use for and that
// widens the kernel surface or reaches outside the job.
constexpr const char* kAllowed[] = {
    "accept", "accept4", "access", "alarm", "arch_prctl", "bind", "brk",
    "capget", "capset", "chdir", "chmod", "chown", "clock_getres",
    "clock_gettime", "clock_nanosleep", "close", "close_range", "connect",
    "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
    "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait",
    "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
    "faccessat", "faccessat2", "fadvise64", "fallocate", "fchdir", "fchmod",
    "fchmodat", "fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr",
    "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
    "fstatfs", "fsync", "ftruncate", "futex", "futex_waitv", "getcpu",
    "getcwd", "getdents", "getdents64", "getegid", "geteuid", "getgid",
    "getgroups", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid",
    "getppid", "getpriority", "getrandom", "getresgid", "getresuid",
    "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname",
    "getsockopt", "gettid", "gettimeofday", "getuid", "getxattr",
    "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
    "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_setup",
    "io_submit", "ioctl", "ioprio_get", "kill", "lchown", "lgetxattr", "link",
    "linkat", "listen", "listxattr", "llistxattr", "lremovexattr", "lseek",
    "lsetxattr", "lstat", "madvise", "membarrier", "memfd_create", "mincore",
    "mkdir", "mkdirat", "mlock", "mlock2", "mmap", "mprotect", "mq_getsetattr",
    "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink",
    "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
    "munmap", "nanosleep", "newfstatat", "open", "openat", "openat2", "pause",
    "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "poll", "ppoll",
    "prctl", "pread64", "preadv", "preadv2", "prlimit64", "pselect6",
    "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
    "readlinkat", "readv", "recvfrom", "recvmmsg", "recvmsg", "removexattr",
    "rename", "renameat", "renameat2", "restart_syscall", "rmdir", "rseq",
    "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
    "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity",
    "sched_getattr", "sched_getparam", "sched_getscheduler",
    "sched_rr_get_interval", "sched_setaffinity", "sched_yield", "select",
    "semctl", "semget", "semop", "semtimedop", "sendfile", "sendmmsg",
    "sendmsg", "sendto", "set_robust_list", "set_tid_address", "setfsgid",
    "setfsuid", "setgid", "setgroups", "setitimer", "setpgid", "setpriority",
    "setregid", "setresgid", "setresuid", "setreuid", "setrlimit", "setsid",
    "setsockopt", "setuid", "shmat", "shmctl", "shmdt", "shmget", "shutdown",
    "sigaltstack", "signalfd", "signalfd4", "splice",
    "stat", "statfs", "statx", "symlink", "symlinkat", "sync",
    "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time",
    "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
    "timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime",
    "times", "tkill", "truncate", "umask", "uname", "unlink", "unlinkat",
    "utime", "utimensat", "utimes", "vfork", "wait4", "waitid", "write",
    "writev",
};

// CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET |
// NEWTIME: a clone with any of them set is refused.
constexpr std::uint64_t kNamespaceFlags = 0x00020000 | 0x02000000 | 0x04000000 |
                                          0x08000000 | 0x10000000 | 0x20000000 |
                                          0x40000000 | 0x00000080;
constexpr int kEnosys = 38;

// The address families a job may open sockets in: local sockets, and IPv4
// and IPv6 (its own loopback; it has no other network). Every other family
// (AF_VSOCK reaches the hypervisor, AF_PACKET raw frames, AF_BLUETOOTH,
// AF_ALG, AF_KEY, AF_XDP, AF_CAN, ... each a kernel surface a job has no
// use for) is refused with EPERM. AF_NETLINK only as NETLINK_ROUTE (0),
// which glibc's getaddrinfo reads the addresses through; no other netlink
// protocol.
constexpr std::uint64_t kAfUnix = 1, kAfInet = 2, kAfInet6 = 10, kAfNetlink = 16;
constexpr std::uint64_t kNetlinkRoute = 0;

json Bind(const std::string& source, const std::string& dest,
          std::vector<std::string> options) {
  return {{"destination", dest}, {"type", "bind"}, {"source", source},
          {"options", std::move(options)}};
}

}  // namespace

std::string CgroupPath(const RunSpec& spec) {
  std::string parent = spec.cgroup_parent;
  while (parent.size() > 1 && parent.back() == '/') parent.pop_back();
  return parent == "/" ? "/" + spec.id : parent + "/" + spec.id;
}

// The native architecture only. A filter lists each architecture's rules
// again: five of them made the runtime's libseccomp compile five filters at
// every job start, 16% of all the CPU a trivial job costs. And a job has no
// business making 32-bit compat system calls (int 0x80 on x86-64, a
// classic way around filters): with its architecture absent from the
// filter, the kernel refuses them.
#if defined(__x86_64__)
constexpr const char* kNativeArch = "SCMP_ARCH_X86_64";
#elif defined(__aarch64__)
constexpr const char* kNativeArch = "SCMP_ARCH_AARCH64";
#else
#error "sluss's seccomp profile knows x86-64 and aarch64"
#endif

json SeccompProfile() {
  json syscalls = json::array();
  syscalls.push_back({{"names", kAllowed}, {"action", "SCMP_ACT_ALLOW"}});
  syscalls.push_back(
      {{"names", {"clone"}},
       {"action", "SCMP_ACT_ALLOW"},
       {"args", {{{"index", 0}, {"value", kNamespaceFlags}, {"valueTwo", 0},
                  {"op", "SCMP_CMP_MASKED_EQ"}}}}});
  // The comparisons are of all 64 bits: a family with high bits set (which
  // the kernel would truncate to an int) matches no rule and is refused.
  auto arg_eq = [](int index, std::uint64_t value) {
    return json{{"index", index}, {"value", value}, {"valueTwo", 0}, {"op", "SCMP_CMP_EQ"}};
  };
  for (std::uint64_t family : {kAfUnix, kAfInet, kAfInet6})
    syscalls.push_back(
        {{"names", {"socket"}}, {"action", "SCMP_ACT_ALLOW"}, {"args", {arg_eq(0, family)}}});
  syscalls.push_back({{"names", {"socket"}},
                      {"action", "SCMP_ACT_ALLOW"},
                      {"args", {arg_eq(0, kAfNetlink), arg_eq(2, kNetlinkRoute)}}});
  syscalls.push_back(
      {{"names", {"socketpair"}}, {"action", "SCMP_ACT_ALLOW"}, {"args", {arg_eq(0, kAfUnix)}}});
  syscalls.push_back({{"names", {"clone3"}},
                      {"action", "SCMP_ACT_ERRNO"},
                      {"errnoRet", kEnosys}});
  return {{"defaultAction", "SCMP_ACT_ERRNO"},
          {"defaultErrnoRet", 1},  // EPERM
          {"architectures", {kNativeArch}},
          {"syscalls", syscalls}};
}

json OciConfig(const RunSpec& spec, const BundleInputs& in) {
  const Limits& l = spec.limits;

  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin",
                                  "HOME=/tmp", "TMPDIR=/tmp", "LANG=C.UTF-8",
                                  "USER=sluss", "SLUSS_OUTPUT=/workspace/output"};
  for (const auto& e : in.gpu_env)
    if (!e.starts_with("NVIDIA_VISIBLE_DEVICES=") && !e.starts_with("CUDA_VISIBLE_DEVICES="))
      env.push_back(e);
  // Inside the container the runtime and CUDA number the visible GPUs from
  // 0 (as Slurm's remapping does): the job's first GPU is 0, whatever its
  // index on the host.
  std::vector<std::string> visible;
  for (std::size_t i = 0; i < spec.gpus.size(); ++i) visible.push_back(std::to_string(i));
  env.push_back("NVIDIA_VISIBLE_DEVICES=" + (visible.empty() ? "void" : core::Join(visible, ",")));
  if (!visible.empty()) env.push_back("CUDA_VISIBLE_DEVICES=" + core::Join(visible, ","));
  for (const auto& [k, v] : spec.env) env.push_back(k + "=" + v);

  json caps = json::array();
  json process = {
      {"terminal", false},
      {"user", {{"uid", spec.uid}, {"gid", spec.gid}, {"additionalGids", in.additional_gids}}},
      {"args", spec.argv},
      {"env", env},
      {"cwd", "/workspace"},
      {"capabilities", {{"bounding", caps}, {"effective", caps},
                        {"inheritable", caps}, {"permitted", caps},
                        {"ambient", caps}}},
      {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", l.nofile}, {"soft", l.nofile}},
                   {{"type", "RLIMIT_CORE"}, {"hard", 0}, {"soft", 0}},
                   // No file larger than the larger of the two writable
                   // spaces: it bounds outputs without an output file
                   // system, and leaves /tmp its own size.
                   {{"type", "RLIMIT_FSIZE"},
                    {"hard", std::max(l.output_bytes, l.tmp_bytes)},
                    {"soft", std::max(l.output_bytes, l.tmp_bytes)}}}},
      {"noNewPrivileges", true},
      {"oomScoreAdj", 500},
  };

  const std::vector<std::string> kNoSuid = {"nosuid", "nodev"};
  json mounts = json::array({
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
      {{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"},
       {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
      {{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"},
       {"options", {"nosuid", "noexec", "nodev", "ro"}}},
      {{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"},
       {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}},
  });
  for (const auto& dir : spec.image.host_binds)
    mounts.push_back(Bind(dir, dir, {"rbind", "ro", "nosuid", "nodev"}));
  mounts.push_back({{"destination", "/tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"},
                    {"options", {"nosuid", "nodev", "mode=1777",
                                 StrCat("size=", l.tmp_bytes)}}});
  mounts.push_back(Bind(spec.workspace, "/workspace", {"rbind", "ro", "nosuid", "nodev"}));
  mounts.push_back(Bind(in.output_dir, "/workspace/output", {"rbind", "rw", "nosuid", "nodev"}));
  for (const auto& f : spec.inputs)
    mounts.push_back(Bind(f.source, "/workspace/" + f.path, {"bind", "ro", "nosuid", "nodev"}));
  mounts.push_back({{"destination", "/data"}, {"type", "tmpfs"}, {"source", "tmpfs"},
                    {"options", {"nosuid", "nodev", "noexec", "mode=755", "size=1m"}}});
  for (const auto& d : spec.datasets)
    mounts.push_back(Bind(d.path, "/data/" + d.name, {"rbind", "ro", "nosuid", "nodev", "noexec"}));
  // The CDI spec's mounts, each read-only and without set-id files or
  // device nodes whatever the spec says: a driver's files are for reading.
  for (const auto& m : in.gpu_mounts) {
    std::vector<std::string> opts = m.options;
    auto add = [&opts](const char* o) {
      if (std::find(opts.begin(), opts.end(), o) == opts.end()) opts.push_back(o);
    };
    std::erase(opts, "rw");
    add("ro");
    add("nosuid");
    add("nodev");
    if (m.type.empty() || m.type == "bind") {
      if (std::find(opts.begin(), opts.end(), "rbind") == opts.end()) add("bind");
      mounts.push_back(Bind(m.host_path, m.container_path, opts));
    } else {
      mounts.push_back({{"destination", m.container_path}, {"type", m.type},
                        {"source", m.host_path}, {"options", opts}});
    }
  }

  json devices = json::array();
  json device_rules = json::array({{{"allow", false}, {"access", "rwm"}}});
  for (const auto& d : in.devices) {
    devices.push_back({{"path", d.path}, {"type", d.type}, {"major", d.major},
                       {"minor", d.minor}, {"fileMode", d.file_mode}, {"uid", d.uid},
                       {"gid", d.gid}});
    if (d.type == "p") continue;  // a FIFO is no device of the cgroup's
    device_rules.push_back({{"allow", true}, {"type", d.type == "b" ? "b" : "c"},
                            {"major", d.major}, {"minor", d.minor},
                            {"access", d.access.empty() ? std::string("rwm") : d.access}});
  }

  json hooks = json::object();
  for (const auto& h : in.gpu_hooks) {
    json hook = {{"path", h.path}};
    if (!h.args.empty()) hook["args"] = h.args;
    if (!h.env.empty()) hook["env"] = h.env;
    if (h.timeout) hook["timeout"] = *h.timeout;
    hooks[h.hook_name].push_back(std::move(hook));
  }

  json linux_ = {
      {"namespaces", {{{"type", "pid"}}, {{"type", "network"}}, {{"type", "ipc"}},
                      {{"type", "uts"}}, {{"type", "mount"}}, {{"type", "cgroup"}}}},
      {"cgroupsPath", CgroupPath(spec) + "/job"},
      {"resources",
       {{"devices", device_rules},
        {"memory", in.limit_kernel_tcp
                       ? json{{"limit", l.memory_bytes}, {"swap", l.memory_bytes},
                              {"kernelTCP", l.memory_bytes}, {"disableOOMKiller", false}}
                       : json{{"limit", l.memory_bytes}, {"swap", l.memory_bytes},
                              {"disableOOMKiller", false}}},
        {"cpu", {{"quota", l.milli_cpus * 100}, {"period", 100000}}},
        {"pids", {{"limit", l.pids}}}}},
      {"devices", devices},
      {"maskedPaths", {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                       "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                       "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                       "/sys/devices/virtual/powercap"}},
      {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                         "/proc/sysrq-trigger"}},
      {"seccomp", SeccompProfile()},
  };

  json config = {{"ociVersion", "1.0.2"},
                 {"process", process},
                 {"root", {{"path", in.rootfs.empty() ? spec.image.rootfs : in.rootfs},
                           {"readonly", !(in.rootfs_writable && !in.rootfs.empty())}}},
                 {"hostname", "sluss-job"},
                 {"mounts", mounts},
                 {"linux", linux_}};
  if (!hooks.empty()) config["hooks"] = std::move(hooks);
  return config;
}

}  // namespace sluss::sandbox
