// sluss-run: the per-job supervisor. The local executor starts it detached
// for each job; on a Slurm node the batch script runs it in the foreground.
//
//   sluss-run start JOBDIR       start detached (idempotent); prints the state
//   sluss-run run JOBDIR         run in the foreground; prints result.json
//   sluss-run status JOBDIR      new | running | finished | lost, as JSON
//   sluss-run cancel JOBDIR [--now]  SIGTERM to the job's supervisor (TERM, grace, KILL),
//                                or SIGUSR1 with --now (KILL at once)
//   sluss-run cleanup JOBDIR     stop what a lost supervisor left; write its result
//   sluss-run host-image DIR     make the `host` image there; prints it as JSON
//   sluss-run image-digest DIR   the digest of an image directory, as slussd computes it
//
// Exit codes: 0 done (for run: the job succeeded), 1 the job failed or the
// command could not be done, 2 usage.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "sandbox/image.h"
#include "sandbox/internal/files.h"
#include "sandbox/supervisor.h"

namespace {

using namespace sluss::sandbox;

int Usage() {
  std::cerr << "usage: sluss-run start|run|status|cancel|cleanup JOBDIR | host-image DIR | image-digest DIR\n";
  return 2;
}

std::string Self(const char* argv0) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
  return argv0;
}

void Print(const JobProbe& probe) {
  nlohmann::json j = {{"state", Name(probe.state)}};
  if (probe.pid > 0) j["pid"] = probe.pid;
  if (probe.result) j["result"] = ToJson(*probe.result);
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

int Supervise(const std::string& dir, int lock_fd) {
  if (lock_fd < 0) {
    lock_fd = ::open((dir + "/supervisor.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      std::cerr << "sluss-run: this job already has a supervisor\n";
      return 1;
    }
    if (::access((dir + "/result.json").c_str(), F_OK) == 0) {
      std::cerr << "sluss-run: this job has already run; see result.json\n";
      return 1;
    }
  }
  ::fcntl(lock_fd, F_SETFD, FD_CLOEXEC);
  (void)internal::WriteFileReplace(dir + "/supervisor.pid", std::to_string(::getpid()) + "\n");
  JobResult result;
  try {
    result = sluss::sandbox::Supervise(dir);
  } catch (const std::exception& e) {
    result.status = "internal_error";
    result.message = std::string("sluss-run failed: ") + e.what();
    (void)WriteResult(dir, result);
  }
  std::cout << ToJson(result).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return result.status == "succeeded" ? 0 : 1;
}

}  // namespace

int Main(int argc, char** argv) {
  if (argc < 3) return Usage();
  const std::string cmd = argv[1];
  if (cmd == "host-image" && argc == 3) {
    auto image = MakeHostImage(argv[2]);
    if (!image) {
      std::cerr << "sluss-run: " << image.error().message << "\n";
      return 1;
    }
    std::cout << nlohmann::json{{"name", image->name}, {"digest", image->digest},
                                {"rootfs", image->rootfs}, {"host_binds", image->host_binds}}
                     .dump()
              << "\n";
    return 0;
  }
  if (cmd == "image-digest" && argc == 3) {
    auto digest = ImageDigest(argv[2]);
    if (!digest) {
      std::cerr << "sluss-run: " << digest.error().message << "\n";
      return 1;
    }
    std::cout << *digest << "\n";
    return 0;
  }
  std::string dir = argv[2];
  if (char* real = ::realpath(dir.c_str(), nullptr)) {
    dir = real;
    std::free(real);
  } else {
    std::cerr << "sluss-run: " << argv[2] << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  if (cmd == "supervise" || cmd == "run") {
    int lock_fd = -1;
    if (argc >= 5 && std::string(argv[3]) == "--lock-fd") lock_fd = std::atoi(argv[4]);
    if (argc == 6 && std::string(argv[5]) == "--detach") {
      // Started by StartDetached (posix_spawn, in a session of its own):
      // the supervisor goes on in a child, and the caller reaps this one.
      pid_t child = ::fork();
      if (child < 0) {
        std::cerr << "sluss-run: fork: " << std::strerror(errno) << "\n";
        return 1;
      }
      if (child != 0) ::_exit(0);
    } else if (argc != 3 && argc != 5) {
      return Usage();
    }
    return Supervise(dir, lock_fd);
  }
  if (argc != 3) return Usage();
  if (cmd == "start") {
    auto probe = StartDetached(Self(argv[0]), dir);
    if (!probe) {
      std::cerr << "sluss-run: " << probe.error().message << "\n";
      return 1;
    }
    Print(*probe);
    return 0;
  }
  if (cmd == "status") {
    Print(ProbeJob(dir));
    return 0;
  }
  if (cmd == "cancel") {
    const bool now = argc == 4 && std::string(argv[3]) == "--now";
    auto r = CancelJob(dir, now);
    if (!r) {
      std::cerr << "sluss-run: " << r.error().message << "\n";
      return 1;
    }
    return 0;
  }
  if (cmd == "cleanup") {
    auto r = CleanUpLost(dir);
    if (!r) {
      std::cerr << "sluss-run: " << r.error().message << "\n";
      return 1;
    }
    std::cout << ToJson(*r).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  return Usage();
}

// What escapes the commands above (it should be nothing) ends sluss-run
// with its reason, never with std::terminate's abort and no word; a job's
// supervisor that ends so still leaves a result (Supervise writes one for
// every path it knows, and `cleanup` for the rest).
int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "sluss-run: " << e.what() << "\n";
    return 1;
  }
}
