#include "executors/slurm.h"

#include <pwd.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>
#include <set>

#include "core/strings.h"
#include "executors/internal/slurm_cli.h"
#include "tests/support/temp_dir.h"

namespace sluss::executors {
namespace {

using core::StatusCode;
using core::StrCat;
using internal::SlurmJob;

// Recorded from Slurm 22.05.8 (scripts/slurm-local): `squeue --me -h -t all
// -o '%i|%j|%T|%r|%N'` with sluss's jobs and another user's job among them.
constexpr const char* kSqueue = R"(4|other|FAILED|BadConstraints|
2|sluss-x-2-1-def|PENDING|Resources|
3|sluss-x-3-1-ghi|PENDING|Priority|
1|sluss-x-1-1-abc|RUNNING|None|vm
)";
// `sacct -X -n -P -o JobID,JobName,State,Reason,NodeList`, with a step line
// as sacct prints without -X.
constexpr const char* kSacct = R"(17|sluss-x-5-2-0a1b2c3d|CANCELLED by 0|None|node3
17.batch|batch|CANCELLED||node3
18|sluss-x-6-1-0a1b2c3d|NODE_FAIL|None|node7
19|sluss-x-7-1-0a1b2c3d|PENDING|None|None assigned
)";

TEST_CASE("squeue and sacct lines are read, steps and warnings skipped", "[slurm]") {
  auto jobs = internal::ParseJobList(kSqueue);
  REQUIRE(jobs.size() == 4);
  CHECK(jobs[1].id == "2");
  CHECK(jobs[1].name == "sluss-x-2-1-def");
  CHECK(jobs[1].state == "PENDING");
  CHECK(jobs[1].reason == "Resources");
  CHECK(jobs[3].nodes == "vm");
  auto acct = internal::ParseJobList(StrCat("squeue: warning: something\n", kSacct));
  REQUIRE(acct.size() == 3);
  CHECK(acct[0].state == "CANCELLED");
  CHECK(acct[1].state == "NODE_FAIL");
  CHECK(acct[1].nodes == "node7");
  CHECK(acct[2].nodes.empty());
}

TEST_CASE("a pending job's reason for people, and which sbatch failures are for good", "[slurm]") {
  auto jobs = internal::ParseJobList("7|sluss-x-1-1-abc|PENDING|Resources||debug\n");
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0].partition == "debug");
  CHECK(internal::PendingText(jobs[0]) == "waiting in Slurm: Resources (partition debug)");
  CHECK(internal::PendingText({"8", "n", "PENDING", "JobHeldUser", "", ""}) ==
        "waiting in Slurm: JobHeldUser (held until `scontrol release 8`)");
  CHECK(internal::SbatchRefused(
      "sbatch: error: Batch job submission failed: Invalid account or account/partition "
      "combination specified"));
  CHECK(internal::SbatchRefused(
      "sbatch: error: Batch job submission failed: Requested node configuration is not available"));
  CHECK_FALSE(internal::SbatchRefused(
      "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect "
      "failure)"));
  CHECK_FALSE(internal::SbatchRefused(
      "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"));
  CHECK_FALSE(internal::SbatchRefused("(no answer within 60 s)"));
}

TEST_CASE("sbatch --parsable's id, with a cluster or after warnings", "[slurm]") {
  CHECK(internal::ParseSbatchId("1234\n") == "1234");
  CHECK(internal::ParseSbatchId("1234;cluster\n") == "1234");
  CHECK(internal::ParseSbatchId("sbatch: warning: x\n77\n") == "77");
  CHECK(internal::ParseSbatchId("sbatch: error: Batch job submission failed\n").empty());
  CHECK(internal::ParseSbatchId("").empty());
}

TEST_CASE("job names carry the installation, job, attempt and key", "[slurm]") {
  CHECK(internal::JobName("sluss-abc", core::JobId{42}, 3, "0123456789abcdef") ==
        "sluss-abc-42-3-01234567");
  CHECK(internal::IsOurs("sluss-abc", "sluss-abc-42-3-01234567"));
  CHECK_FALSE(internal::IsOurs("sluss-abc", "sluss-abcd-42-3-01234567"));
  CHECK_FALSE(internal::IsOurs("sluss-abc", "sluss-abc-x-3-01234567"));
  CHECK_FALSE(internal::IsOurs("sluss-abc", "other"));
}

std::string User() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : std::to_string(::geteuid());
}

core::LaunchRequest Request(std::int64_t job, int attempt, const std::string& root) {
  core::LaunchRequest r;
  r.job = core::JobId{job};
  r.attempt = attempt;
  r.attempt_key = StrCat("feedc0de", job, "0000000");
  r.project = "p";
  r.image = {"python-3.11", "sha256:00", "/images/python", {}};
  r.argv = {"python3", "a.py"};
  r.workspace = root + "/ws/" + std::to_string(job);
  r.resources.milli_cpus = 1500;
  r.resources.memory_bytes = std::int64_t{1} << 30;
  r.resources.time_limit = std::chrono::seconds(60);
  r.resources.disk_bytes = std::int64_t{1} << 20;
  return r;
}

TEST_CASE("sbatch gets the typed spec: CPUs, memory, time, GPUs, pool settings", "[slurm]") {
  internal::SubmitSettings s;
  s.partition = "gpu";
  s.account = "study";
  s.qos = "normal";
  core::LaunchRequest r = Request(7, 2, "/x");
  r.resources.gpus = 2;
  auto a = internal::SbatchArgs(s, r, "sluss-x-7-2-feedc0de", "/jobs/7-2-k", {"node3", "node7"});
  std::set<std::string> args(a.begin(), a.end());
  CHECK(a[0] == "sbatch");
  for (const char* want :
       {"--parsable", "--no-requeue", "--job-name=sluss-x-7-2-feedc0de", "--cpus-per-task=2",
        "--mem=1152M", "--time=3", "--gres=gpu:2", "--partition=gpu", "--account=study",
        "--qos=normal", "--exclude=node3,node7", "--export=NONE"})
    CHECK(args.contains(want));
  CHECK(a.back() == "/jobs/7-2-k/job.sbatch");
  CHECK_FALSE(std::any_of(a.begin(), a.end(),
                          [](const std::string& x) { return x.starts_with("--container"); }));
  CHECK(
      internal::BatchScript("/usr/bin/sluss-run", "/jobs/it's") ==
      "#!/bin/sh\n# Written by slussd: runs this attempt under sluss-run on the node Slurm chose.\n"
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nexport PATH\n"
      "exec '/usr/bin/sluss-run' run '/jobs/it'\\''s'\n");
}

TEST_CASE("Slurm's end states map to sluss's", "[slurm]") {
  auto of = [](const char* state, std::optional<core::Executor::CancelMode> c = std::nullopt) {
    return internal::OutcomeOfSlurm({"9", "n", state, "None", "node1"}, c).status;
  };
  CHECK(of("TIMEOUT") == StatusCode::kTimedOut);
  CHECK(of("OUT_OF_MEMORY") == StatusCode::kOomKilled);
  CHECK(of("NODE_FAIL") == StatusCode::kNodeLost);
  CHECK(of("BOOT_FAIL") == StatusCode::kNodeLost);
  CHECK(of("PREEMPTED") == StatusCode::kNodeLost);
  CHECK(of("CANCELLED") == StatusCode::kKilledByAdmin);
  CHECK(of("CANCELLED", core::Executor::CancelMode::kGraceful) == StatusCode::kCancelledByUser);
  CHECK(of("FAILED") == StatusCode::kInternalError);
  CHECK(of("COMPLETED") == StatusCode::kInternalError);
  CHECK(internal::OutcomeOfSlurm({"9", "n", "FAILED", "NonZeroExitCode", "node1"}, {})
            .message.find("Slurm job 9 on node1") != std::string::npos);
  CHECK(internal::PhaseOf("PENDING") == internal::Phase::kPending);
  CHECK(internal::PhaseOf("RUNNING") == internal::Phase::kRunning);
  CHECK(internal::PhaseOf("COMPLETING") == internal::Phase::kRunning);
  CHECK(internal::PhaseOf("TIMEOUT") == internal::Phase::kEnded);
}

// A Slurm in memory: sbatch, squeue, sacct and scancel over a job table.
class FakeSlurm final : public SlurmRunner {
 public:
  struct State {
    std::vector<std::vector<std::string>> calls;
    std::map<std::string, SlurmJob> jobs;  // by id
    int next_id = 100;
    bool down = false;  // slurmctld does not answer
    bool accounting = false;
    int sbatch_status = 0;
    bool refuse_exclude = false;          // a partition of one node
    std::set<std::string> squeue_forgot;  // ids squeue no longer lists (MinJobAge)
    // sbatch that takes the job and loses the answer (a timeout on the way back).
    bool sbatch_lost_answer = false;
    // sbatch waits until `gate` opens (the submit thread's test).
    bool gate_closed = false;
    std::mutex mu;  // for the submit thread's test
    std::condition_variable gate;
    int Count(const std::string& cmd) const {
      int n = 0;
      for (const auto& c : calls) n += c[0] == cmd;
      return n;
    }
    SlurmJob* ByName(const std::string& name) {
      for (auto& [id, j] : jobs)
        if (j.name == name) return &j;
      return nullptr;
    }
  };
  explicit FakeSlurm(State* s) : s_(s) {}
  Output Run(const std::vector<std::string>& argv) override {
    std::unique_lock lock(s_->mu);
    s_->calls.push_back(argv);
    const std::string& cmd = argv[0];
    if (cmd == "sbatch") s_->gate.wait(lock, [this] { return !s_->gate_closed; });
    if (s_->down && cmd != "scancel")
      return {1, "slurm_load_jobs error: Unable to contact slurm controller\n"};
    if (cmd == "sbatch") {
      if (s_->sbatch_status != 0) return {s_->sbatch_status, "sbatch: error: Invalid account\n"};
      if (s_->refuse_exclude && std::any_of(argv.begin(), argv.end(), [](const std::string& a) {
            return a.starts_with("--exclude");
          }))
        return {1,
                "sbatch: error: Batch job submission failed: Requested node configuration is not "
                "available\n"};
      std::string name;
      for (const auto& a : argv)
        if (a.starts_with("--job-name=")) name = a.substr(11);
      std::string id = std::to_string(s_->next_id++);
      s_->jobs[id] = {id, name, "PENDING", "Priority", ""};
      if (s_->sbatch_lost_answer)
        return {1, "sbatch: error: Batch job submission failed: Socket timed out on send/recv "
                   "operation\n"};
      return {0, id + "\n"};
    }
    if (cmd == "squeue" || cmd == "sacct") {
      if (cmd == "sacct" && !s_->accounting) return {1, "Slurm accounting storage is disabled\n"};
      std::set<std::string> names;
      for (const auto& a : argv)
        if (a.starts_with("--name=")) {
          std::string list = a.substr(7);
          for (std::size_t at = 0; at <= list.size();) {
            auto c = list.find(',', at);
            names.insert(list.substr(at, c == std::string::npos ? std::string::npos : c - at));
            if (c == std::string::npos) break;
            at = c + 1;
          }
        }
      std::string out;
      for (const auto& [id, j] : s_->jobs)
        if ((names.empty() || names.contains(j.name)) &&
            !(cmd == "squeue" && s_->squeue_forgot.contains(id)))
          out += StrCat(j.id, "|", j.name, "|", j.state, "|", j.reason, "|", j.nodes, "|",
                        j.partition, "\n");
      return {0, out};
    }
    if (cmd == "scancel") return {0, ""};
    return {127, "unknown command\n"};
  }

 private:
  State* s_;
};

struct Harness {
  testing::TempDir tmp;
  FakeSlurm::State slurm;
  std::vector<std::tuple<std::int64_t, int, core::JobOutcome>> finished;
  std::vector<std::pair<std::int64_t, std::string>> pending;
  std::set<std::int64_t> started;
  std::chrono::milliseconds lost_grace{0};
  std::chrono::milliseconds result_grace{0};
  bool submit_thread = false;
  bool record = true;  // whether the store takes the reasons

  std::unique_ptr<SlurmExecutor> Make() {
    SlurmOptions o;
    o.node.jobs_dir = tmp / "jobs";
    o.node.sluss_run = "/usr/lib/sluss/sluss-run";
    o.node.container_prefix = "sluss-t";
    o.node.runtime = "/nonexistent/runc";
    o.poll_interval = std::chrono::milliseconds(0);  // the test polls
    o.result_grace = result_grace;
    o.lost_grace = lost_grace;
    o.submit_thread = submit_thread;
    o.submit_backoff = std::chrono::milliseconds(0);  // the test says when to try again
    o.progress = [this](core::JobId j, int, const std::string& reason) {
      pending.emplace_back(j.value, reason);
      return record;
    };
    core::Executor::Callbacks cb;
    cb.started = [this](core::JobId j, int) { started.insert(j.value); };
    cb.finished = [this](core::JobId j, int a, const core::JobOutcome& out) {
      finished.emplace_back(j.value, a, out);
    };
    return std::make_unique<SlurmExecutor>(o, cb, std::make_unique<FakeSlurm>(&slurm));
  }
  std::string Dir(std::int64_t job, int attempt) {
    auto r = Request(job, attempt, "");
    return AttemptDir(tmp / "jobs", r.job, attempt, r.attempt_key);
  }
  std::string Name(std::int64_t job, int attempt) {
    auto r = Request(job, attempt, "");
    return internal::JobName("sluss-t", r.job, attempt, r.attempt_key);
  }
  void WriteResult(std::int64_t job, int attempt, const std::string& status) {
    core::JobResult r;
    r.status = status;
    r.message = "from sluss-run";
    r.exit_code = 0;
    std::ofstream(Dir(job, attempt) + "/result.json") << core::ToJson(r).dump();
  }
  core::RunningAttempt Running(std::int64_t job, int attempt) {
    auto r = Request(job, attempt, "");
    return {r.job, attempt, r.attempt_key};
  }
};

TEST_CASE("an attempt is one sbatch, its intent on disk first, never submitted twice", "[slurm]") {
  Harness h;
  auto ex = h.Make();
  auto r = Request(1, 1, h.tmp.path().string());
  REQUIRE(ex->Launch(r));
  REQUIRE(ex->Launch(r));  // idempotent
  CHECK(h.slurm.Count("sbatch") == 1);
  const std::string dir = h.Dir(1, 1);
  std::ifstream in(dir + "/slurm.json");
  auto intent = nlohmann::json::parse(in);
  CHECK(intent["name"] == h.Name(1, 1));
  CHECK(intent["job_id"] == "100");
  std::ifstream script(dir + "/job.sbatch");
  std::string text((std::istreambuf_iterator<char>(script)), {});
  CHECK(text.find("exec '/usr/lib/sluss/sluss-run' run '" + dir + "'") != std::string::npos);
  std::ifstream spec(dir + "/spec.json");
  CHECK(nlohmann::json::parse(spec)["limits"]["memory_bytes"] == std::int64_t{1} << 30);
}

TEST_CASE("one squeue per poll for every attempt, pending reasons, start, result.json decides",
          "[slurm]") {
  Harness h;
  auto ex = h.Make();
  for (int j = 1; j <= 3; ++j) REQUIRE(ex->Launch(Request(j, 1, h.tmp.path().string())));
  h.slurm.jobs["100"].state = "RUNNING";
  h.slurm.jobs["100"].nodes = "vm";
  h.slurm.jobs["101"].reason = "Resources";
  h.slurm.jobs["101"].partition = "debug";
  ex->PollOnce();
  CHECK(h.slurm.Count("squeue") == 1);
  CHECK(h.started == std::set<std::int64_t>{1});
  CHECK(h.pending == std::vector<std::pair<std::int64_t, std::string>>{
                         {1, "running in Slurm job 100 on vm"},
                         {2, "waiting in Slurm: Resources (partition debug)"},
                         {3, "waiting in Slurm: Priority"}});
  // Job 1's result is written; Slurm still says RUNNING: the result decides.
  h.WriteResult(1, 1, "succeeded");
  ex->PollOnce();
  REQUIRE(h.finished.size() == 1);
  CHECK(std::get<0>(h.finished[0]) == 1);
  CHECK(std::get<2>(h.finished[0]).status == StatusCode::kSucceeded);
  CHECK(h.pending.size() == 3);  // reasons unchanged: not reported again
  CHECK(h.slurm.Count("squeue") == 2);
  h.slurm.jobs["102"].reason = "JobHeldAdmin";
  ex->PollOnce();
  REQUIRE(h.pending.size() == 4);
  CHECK(h.pending.back().second ==
        "waiting in Slurm: JobHeldAdmin (held until `scontrol release 102`)");
}

TEST_CASE("Slurm's end without a result: timeout, out of memory, node failure excluded next time",
          "[slurm]") {
  Harness h;
  auto ex = h.Make();
  for (int j = 1; j <= 3; ++j) REQUIRE(ex->Launch(Request(j, 1, h.tmp.path().string())));
  h.slurm.jobs["100"].state = "TIMEOUT";
  h.slurm.jobs["101"].state = "OUT_OF_MEMORY";
  h.slurm.jobs["102"] = {"102", h.Name(3, 1), "NODE_FAIL", "None", "node7"};
  ex->PollOnce();
  REQUIRE(h.finished.size() == 3);
  std::map<std::int64_t, StatusCode> got;
  for (const auto& [j, a, o] : h.finished) got[j] = o.status;
  CHECK(got[1] == StatusCode::kTimedOut);
  CHECK(got[2] == StatusCode::kOomKilled);
  CHECK(got[3] == StatusCode::kNodeLost);
  REQUIRE(ex->Launch(Request(3, 2, h.tmp.path().string())));
  const auto sbatch = h.slurm.calls.back();
  CHECK(std::find(sbatch.begin(), sbatch.end(), "--exclude=node7") != sbatch.end());
  // Node 7 failed job 3 again; now nothing else fits: submitted without
  // the exclusion rather than failed.
  h.slurm.jobs["103"] = {"103", h.Name(3, 2), "NODE_FAIL", "None", "node7"};
  ex->PollOnce();
  h.slurm.refuse_exclude = true;
  REQUIRE(ex->Launch(Request(3, 3, h.tmp.path().string())));
  const auto& last = h.slurm.calls.back();
  CHECK(last[0] == "sbatch");
  CHECK(std::none_of(last.begin(), last.end(),
                     [](const std::string& a) { return a.starts_with("--exclude"); }));
  CHECK(h.slurm.ByName(h.Name(3, 3)) != nullptr);
}

TEST_CASE("sluss-run stopped by Slurm (time limit, an admin's scancel): Slurm's state says why",
          "[slurm]") {
  Harness h;
  h.result_grace = std::chrono::hours(1);  // Slurm's state comes before it runs out
  auto ex = h.Make();
  REQUIRE(ex->Launch(Request(1, 1, h.tmp.path().string())));
  REQUIRE(ex->Launch(Request(2, 1, h.tmp.path().string())));
  h.slurm.jobs["100"].state = "RUNNING";
  h.slurm.jobs["101"].state = "RUNNING";
  ex->PollOnce();
  // Slurm sent TERM; sluss-run wrote "cancelled" before Slurm's state moved.
  h.WriteResult(1, 1, "cancelled");
  h.WriteResult(2, 1, "cancelled");
  ex->PollOnce();
  CHECK(h.finished.empty());
  h.slurm.jobs["100"].state = "TIMEOUT";
  h.slurm.jobs["101"].state = "CANCELLED";
  ex->PollOnce();
  REQUIRE(h.finished.size() == 2);
  std::map<std::int64_t, core::JobOutcome> got;
  for (const auto& [j, a, o] : h.finished) got[j] = o;
  CHECK(got[1].status == StatusCode::kTimedOut);
  CHECK_FALSE(got[1].result_json.empty());  // the record is kept
  CHECK(got[2].status == StatusCode::kKilledByAdmin);
  // Its node went down: sluss-run was stopped and said what it saw; lost,
  // and the node is excluded from the next attempt.
  REQUIRE(ex->Launch(Request(3, 1, h.tmp.path().string())));
  h.slurm.jobs["102"].state = "RUNNING";
  ex->PollOnce();
  h.WriteResult(3, 1, "internal_error");  // runc was stopped while starting
  h.slurm.jobs["102"] = {"102", h.Name(3, 1), "NODE_FAIL", "None", "node2"};
  ex->PollOnce();
  REQUIRE(h.finished.size() == 3);
  CHECK(std::get<2>(h.finished[2]).status == StatusCode::kNodeLost);
  REQUIRE(ex->Launch(Request(3, 2, h.tmp.path().string())));
  const auto& sbatch = h.slurm.calls.back();
  CHECK(std::find(sbatch.begin(), sbatch.end(), "--exclude=node2") != sbatch.end());
}

TEST_CASE("a job missing from squeue is lost only after the grace, never while squeue fails",
          "[slurm]") {
  Harness h;
  h.lost_grace = std::chrono::hours(1);
  auto ex = h.Make();
  REQUIRE(ex->Launch(Request(1, 1, h.tmp.path().string())));
  h.slurm.jobs.clear();  // aged out, accounting off
  ex->PollOnce();
  CHECK(h.finished.empty());

  Harness h2;  // no grace at all
  auto ex2 = h2.Make();
  REQUIRE(ex2->Launch(Request(1, 1, h2.tmp.path().string())));
  h2.slurm.down = true;
  ex2->PollOnce();
  ex2->PollOnce();
  CHECK(h2.finished.empty());  // slurmctld away: nothing judged
  h2.slurm.down = false;
  h2.slurm.jobs.clear();
  ex2->PollOnce();
  REQUIRE(h2.finished.size() == 1);
  CHECK(std::get<2>(h2.finished[0]).status == StatusCode::kNodeLost);
  // Its result arrived meanwhile instead: the result, not lost.
  Harness h3;
  auto ex3 = h3.Make();
  REQUIRE(ex3->Launch(Request(1, 1, h3.tmp.path().string())));
  h3.slurm.jobs.clear();
  h3.WriteResult(1, 1, "nonzero_exit");
  ex3->PollOnce();
  REQUIRE(h3.finished.size() == 1);
  CHECK(std::get<2>(h3.finished[0]).status == StatusCode::kNonzeroExit);
}

TEST_CASE("sacct, where accounting exists, tells how a job that left squeue ended", "[slurm]") {
  Harness h;
  h.slurm.accounting = true;
  h.lost_grace = std::chrono::hours(1);
  auto ex = h.Make();
  REQUIRE(ex->Launch(Request(1, 1, h.tmp.path().string())));
  h.slurm.jobs["100"].state = "OUT_OF_MEMORY";
  h.slurm.squeue_forgot.insert("100");  // squeue no longer lists it; sacct does
  ex->PollOnce();
  CHECK(h.slurm.Count("sacct") == 1);
  REQUIRE(h.finished.size() == 1);
  CHECK(std::get<2>(h.finished[0]).status == StatusCode::kOomKilled);
}

TEST_CASE("killed between sbatch and recording the id: found by name, not submitted again",
          "[slurm]") {
  Harness h;
  {
    auto ex = h.Make();
    REQUIRE(ex->Launch(Request(1, 1, h.tmp.path().string())));
  }
  // The id never reached the disk.
  std::ofstream(h.Dir(1, 1) + "/slurm.json")
      << nlohmann::json{{"name", h.Name(1, 1)}, {"job_id", ""}, {"submitted_at", 0}}.dump();
  auto ex = h.Make();
  auto never = ex->Reattach({h.Running(1, 1)});
  CHECK(never.empty());
  REQUIRE(ex->Launch(Request(1, 1, h.tmp.path().string())));
  CHECK(h.slurm.Count("sbatch") == 1);
  std::ifstream in(h.Dir(1, 1) + "/slurm.json");
  CHECK(nlohmann::json::parse(in)["job_id"] == "100");
  h.slurm.jobs["100"].state = "RUNNING";
  ex->PollOnce();
  CHECK(h.started.contains(1));
  // Only sluss's own user's jobs count: another user may use the same name.
  for (const auto& c : h.slurm.calls)
    if (c[0] == "squeue") CHECK(std::find(c.begin(), c.end(), "--me") != c.end());
}

TEST_CASE("killed before sbatch ran: launched again, exactly once", "[slurm]") {
  Harness h;
  {
    auto ex = h.Make();
    REQUIRE(ex->Launch(Request(1, 1, h.tmp.path().string())));
  }
  h.slurm.jobs.clear();  // the intent was written, sbatch never ran
  std::ofstream(h.Dir(1, 1) + "/slurm.json")
      << nlohmann::json{{"name", h.Name(1, 1)}, {"job_id", ""}, {"submitted_at", 0}}.dump();
  auto ex = h.Make();
  auto never = ex->Reattach({h.Running(1, 1), h.Running(2, 1)});  // 2: no intent at all
  REQUIRE(never.size() == 2);
  REQUIRE(ex->Launch(Request(1, 1, h.tmp.path().string())));
  REQUIRE(ex->Launch(Request(2, 1, h.tmp.path().string())));
  CHECK(h.slurm.Count("sbatch") == 3);  // one before the crash, one each after
  CHECK(h.slurm.jobs.size() == 2);
}

TEST_CASE("cancel: a running job's sluss-run gets the signal, a pending job is scancelled",
          "[slurm]") {
  Harness h;
  auto ex = h.Make();
  REQUIRE(ex->Launch(Request(1, 1, h.tmp.path().string())));
  REQUIRE(ex->Launch(Request(2, 1, h.tmp.path().string())));
  h.slurm.jobs["100"].state = "RUNNING";
  ex->PollOnce();
  REQUIRE(ex->Cancel(core::JobId{1}, 1, core::Executor::CancelMode::kGraceful));
  CHECK(h.slurm.calls.back() ==
        std::vector<std::string>{"scancel", "--batch", "--signal=TERM", "100"});
  REQUIRE(ex->Cancel(core::JobId{2}, 1, core::Executor::CancelMode::kNow));
  CHECK(h.slurm.calls.back() == std::vector<std::string>{"scancel", "101"});
  h.slurm.jobs["101"].state = "CANCELLED";
  ex->PollOnce();
  REQUIRE(h.finished.size() == 1);
  CHECK(std::get<2>(h.finished[0]).status == StatusCode::kCancelledByUser);
  REQUIRE(ex->Cancel(core::JobId{9}, 1, core::Executor::CancelMode::kNow));  // unknown: nothing
}

TEST_CASE("sbatch refusing a job ends it with why, and leaves nothing queued", "[slurm]") {
  Harness h;
  h.slurm.sbatch_status = 1;
  auto ex = h.Make();
  REQUIRE(ex->Launch(Request(1, 1, h.tmp.path().string())));
  REQUIRE(h.finished.size() == 1);
  CHECK(std::get<2>(h.finished[0]).status == StatusCode::kInternalError);
  CHECK(std::get<2>(h.finished[0]).message.find("Invalid account") != std::string::npos);
  CHECK(h.slurm.calls.back() ==
        (std::vector<std::string>{"scancel", "--user=" + User(), "--name=" + h.Name(1, 1)}));
}

TEST_CASE("an sbatch that may pass later waits, says why, and is tried again, never lost",
          "[slurm]") {
  Harness h;  // lost_grace 0: an unsubmitted attempt is never judged lost
  auto ex = h.Make();
  h.slurm.down = true;
  REQUIRE(ex->Launch(Request(1, 1, h.tmp.path().string())));
  REQUIRE(ex->Launch(Request(2, 1, h.tmp.path().string())));
  CHECK(h.slurm.Count("sbatch") == 1);  // the queue waits after a failure
  REQUIRE(!h.pending.empty());
  CHECK(h.pending[0].second.starts_with(
      "waiting to reach Slurm: sbatch failed (exit 1): slurm_load_jobs error: Unable to contact"));
  ex->PollOnce();
  ex->PollOnce();
  CHECK(h.finished.empty());
  ex->SubmitQueued();  // still down: the intent is on disk, so squeue first
  CHECK(h.slurm.Count("sbatch") == 1);
  CHECK(h.pending.back().second.starts_with("waiting to reach Slurm: squeue does not answer"));
  h.slurm.down = false;
  ex->SubmitQueued();
  CHECK(h.slurm.Count("sbatch") == 3);
  CHECK(h.slurm.jobs.size() == 2);
  ex->PollOnce();
  CHECK(h.finished.empty());
}

TEST_CASE("an sbatch whose answer was lost: the job is found by name, not submitted twice",
          "[slurm]") {
  Harness h;
  auto ex = h.Make();
  h.slurm.sbatch_lost_answer = true;
  REQUIRE(ex->Launch(Request(1, 1, h.tmp.path().string())));
  CHECK(h.slurm.jobs.size() == 1);
  CHECK(h.finished.empty());
  h.slurm.sbatch_lost_answer = false;
  ex->SubmitQueued();
  CHECK(h.slurm.Count("sbatch") == 1);
  CHECK(h.slurm.jobs.size() == 1);
  std::ifstream in(h.Dir(1, 1) + "/slurm.json");
  CHECK(nlohmann::json::parse(in)["job_id"] == "100");
  h.slurm.jobs["100"].state = "RUNNING";
  ex->PollOnce();
  CHECK(h.started.contains(1));
}

TEST_CASE("a job cancelled while it waits for sbatch never reaches Slurm", "[slurm]") {
  Harness h;
  auto ex = h.Make();
  h.slurm.down = true;
  REQUIRE(ex->Launch(Request(1, 1, h.tmp.path().string())));
  REQUIRE(ex->Launch(Request(2, 1, h.tmp.path().string())));
  REQUIRE(ex->Cancel(core::JobId{2}, 1, core::Executor::CancelMode::kGraceful));
  REQUIRE(h.finished.size() == 1);
  CHECK(std::get<0>(h.finished[0]) == 2);
  CHECK(std::get<2>(h.finished[0]).status == StatusCode::kCancelledByUser);
  h.slurm.down = false;
  ex->SubmitQueued();
  CHECK(h.slurm.jobs.size() == 1);
  CHECK(h.slurm.ByName(h.Name(2, 1)) == nullptr);
}

TEST_CASE("a reason the store did not take is offered again, and only until it is", "[slurm]") {
  Harness h;
  h.record = false;  // the engine has not recorded the launch yet
  auto ex = h.Make();
  REQUIRE(ex->Launch(Request(1, 1, h.tmp.path().string())));
  h.slurm.jobs["100"].reason = "Resources";
  ex->PollOnce();
  ex->PollOnce();
  CHECK(h.pending.size() == 2);
  h.record = true;
  ex->PollOnce();
  ex->PollOnce();
  CHECK(h.pending.size() == 3);
}

TEST_CASE("Launch does not wait for sbatch: the submit thread does, in launch order", "[slurm]") {
  Harness h;
  h.submit_thread = true;
  h.slurm.gate_closed = true;  // sbatch hangs until the test opens it
  auto ex = h.Make();
  for (int j = 1; j <= 3; ++j) REQUIRE(ex->Launch(Request(j, 1, h.tmp.path().string())));
  {
    std::lock_guard lock(h.slurm.mu);
    CHECK(h.slurm.jobs.empty());
    h.slurm.gate_closed = false;
  }
  h.slurm.gate.notify_all();
  for (int i = 0; i < 6000; ++i) {
    {
      std::lock_guard lock(h.slurm.mu);
      if (h.slurm.jobs.size() == 3) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::lock_guard lock(h.slurm.mu);
  REQUIRE(h.slurm.jobs.size() == 3);
  CHECK(h.slurm.jobs["100"].name == h.Name(1, 1));
  CHECK(h.slurm.jobs["102"].name == h.Name(3, 1));
}

TEST_CASE("a failed result waits for Slurm's word for at most result_grace", "[slurm]") {
  Harness h;  // result_grace 0
  auto ex = h.Make();
  REQUIRE(ex->Launch(Request(1, 1, h.tmp.path().string())));
  h.slurm.jobs["100"].state = "RUNNING";  // still held by Slurm (epilog)
  h.WriteResult(1, 1, "nonzero_exit");
  ex->PollOnce();
  REQUIRE(h.finished.size() == 1);
  CHECK(std::get<2>(h.finished[0]).status == StatusCode::kNonzeroExit);
  CHECK(h.slurm.Count("squeue") == 1);  // Slurm was asked first
}

TEST_CASE("the process runner returns squeue's whole output, however long, and exit codes",
          "[slurm]") {
  auto runner = MakeProcessRunner();
  // 200,000 lines (1.3 MB): a cut list would make jobs look gone.
  auto big = runner->Run({"seq", "200000"});
  CHECK(big.status == 0);
  CHECK(big.text.size() == 1288895);
  CHECK(big.text.ends_with("\n200000\n"));
  auto failed = runner->Run({"sh", "-c", "echo refused >&2; exit 3"});
  CHECK(failed.status == 3);
  CHECK(failed.text == "refused\n");
  CHECK(runner->Run({"/nonexistent/sbatch"}).status != 0);
}

}  // namespace
}  // namespace sluss::executors
