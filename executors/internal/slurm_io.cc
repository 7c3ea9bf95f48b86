#include "executors/internal/slurm_io.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/strings.h"
#include "executors/workspaces.h"
#include "sandbox/run_spec.h"

namespace sluss::executors {
namespace internal {

namespace fs = std::filesystem;
using core::StrCat;

namespace {

constexpr const char* kIntentFile = "slurm.json";

// The largest output read from one command: squeue of every job of a big
// cluster's user fits many times over. Past it the command counts as
// failed, so that nothing is judged on a cut list.
constexpr std::size_t kMaxOutput = std::size_t{64} << 20;

class ProcessRunner final : public SlurmRunner {
 public:
  Output Run(const std::vector<std::string>& argv) override {
    // A client that waits on an unreachable slurmctld (sbatch retries for
    // long) must not hold the engine: at most a minute, then an error.
    std::vector<std::string> limited = {"timeout", "-k", "5", "60"};
    limited.insert(limited.end(), argv.begin(), argv.end());
    std::vector<char*> args;
    for (auto& a : limited) args.push_back(a.data());
    args.push_back(nullptr);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return {-1, StrCat("pipe: ", std::strerror(errno))};
    // posix_spawn (vfork-like): slussd is large and has many threads.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      return {-1, StrCat("cannot run ", argv[0], ": ", std::strerror(rc))};
    }
    Output out;
    bool cut = false;
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (out.text.size() + static_cast<std::size_t>(n) > kMaxOutput)
        cut = true;
      else
        out.text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (out.status == 124) out.text += "(no answer within 60 s)";
    if (cut && out.status == 0) {
      out.status = 1;
      out.text = StrCat(argv[0], " printed more than ", kMaxOutput >> 20, " MiB");
    }
    return out;
  }
};

}  // namespace

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Atomically: a temporary file, fsync, rename, fsync of the directory. The
// intent must be on disk before sbatch runs.
core::Result<void> WriteDurably(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return core::Internal(StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    return core::Internal(StrCat("cannot write ", path, ": ", std::strerror(errno)));
  int dfd = ::open(fs::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

std::optional<Intent> ReadIntent(const std::string& dir) {
  auto text = ReadFile(dir + "/" + kIntentFile);
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  Intent i;
  i.name = j.value("name", "");
  i.id = j.value("job_id", "");
  i.submitted_at = j.value("submitted_at", std::int64_t{0});
  return i;
}

core::Result<void> WriteIntent(const std::string& dir, const Intent& i) {
  nlohmann::json j = {{"name", i.name}, {"job_id", i.id}, {"submitted_at", i.submitted_at}};
  return WriteDurably(dir + "/" + kIntentFile, j.dump() + "\n", 0600);
}

std::optional<core::JobResult> ReadResult(const std::string& dir) {
  auto text = ReadFile(dir + "/result.json");
  if (!text) return std::nullopt;
  auto r = core::ParseJobResult(*text);
  if (!r) return std::nullopt;
  return *r;
}

// The attempt's exported code (named in its spec), when it was the
// attempt's own (an older slussd's): not needed once it ended. A shared one
// is the preparer's sweep's (Workspaces).
void RemoveWorkspace(const std::string& dir) {
  auto text = ReadFile(dir + "/spec.json");
  if (!text) return;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) return;
  auto spec = sandbox::ParseRunSpec(j);
  if (!spec || spec->workspace.empty() || Workspaces::IsShared(spec->workspace)) return;
  std::error_code ec;
  fs::remove_all(spec->workspace, ec);
}

std::int64_t EpochSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace internal

std::unique_ptr<SlurmRunner> MakeProcessRunner() {
  return std::make_unique<internal::ProcessRunner>();
}

}  // namespace sluss::executors
