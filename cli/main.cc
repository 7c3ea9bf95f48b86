// sluss: the command-line client.
//
// Offline commands work without a server:
//   sluss check [FILE] [--json]   validate a pipeline file (default sluss.yaml);
//     with --server URL or SLUSS_SERVER, also its images on that server
//   sluss audit verify --db FILE --public-key FILE

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/check.h"
#include "cli/commands.h"
#include <curl/curl.h>

namespace {

constexpr const char* kUsage =
    "usage: sluss <command> [options]\n"
    "\n"
    "commands:\n"
    "  check [FILE] [--json] [--server URL] [--offline]\n"
    "                          validate a pipeline file (default: sluss.yaml); with a\n"
    "                          server (--server or SLUSS_SERVER), warn where an action's\n"
    "                          interpreter is not in its image\n"
    "                          and print its plan; exit 0 valid, 1 invalid\n"
    "  version                 print the version\n"
    "\n"
    "server commands (--server URL, --token T, --json; or SLUSS_SERVER, SLUSS_TOKEN,\n"
    "~/.config/sluss/config):\n"
    "  status [--all]          your recent runs: jobs by state, and those that need\n"
    "                          attention (running, failed, waiting on other than\n"
    "                          their needs); --all: every job\n"
    "  runs [--project P] [--state S] [--limit N]\n"
    "  run show RUN [--jobs] | run cancel RUN   (--jobs: every job of a large run)\n"
    "  run start PROJECT [--ref BRANCH|--commit SHA] [--actions A,B] [--force] [--wait]\n"
    "  job show JOB            a job and every transition it made\n"
    "  cancel|retry|hold|release JOB\n"
    "  logs JOB [-f] [--stderr] [--attempt N]   a job's output; -f follows it to the end\n"
    "  projects | project create NAME [--hosted] [--description D] | project show NAME\n"
    "  project set NAME --branches main,dev   (admins) the branches whose pushes run\n"
    "  project webhook NAME    a new secret for GitHub/Gitea/GitLab push webhooks\n"
    "  auth setup-git          git answers the server's URL with your token (git push over HTTPS)\n"
    "  project pause NAME [--reason R] | project resume NAME   (admins) hold a project's queue\n"
    "  member add|remove PROJECT USER\n"
    "  quota get PROJECT | quota set PROJECT KEY=VALUE...  (max.gpus=8 per_job.max_time=24h)\n"
    "  usage PROJECT | nodes | images | image add NAME ROOTFS | image show NAME | whoami\n"
    "  drain NODE [--reason R] | resume NODE | queue [pause|resume] [--reason R]\n"
    "  token create [--user U] [--role R] [--name N] [--expires 90d] | token list | token revoke ID\n"
    "\n"
    "data stewards:\n"
    "  dataset add NAME VERSION PATH   register a read-only directory; hashes it, with progress\n"
    "  datasets | dataset show NAME VERSION | dataset verify NAME VERSION (full re-hash)\n"
    "  permit grant ID --project P --datasets D1,D2@V --persons A,B --purpose TEXT\n"
    "               --from 2026-01-01 --until 2027-01-01\n"
    "  permits [--project P] | permit show ID | permit revoke ID [--reason R]\n"
    "  permit checks ID          the disclosure checks' parameters of the permit's requests\n"
    "  permit set-checks ID [--min-count N] [--round N] [--zeros allowed|disclosive]\n"
    "               [--max-size BYTES] [--types csv,tsv,...]   (the granting steward; replaces\n"
    "               what was set; sluss.yaml may only tighten them)\n"
    "outputs:\n"
    "  outputs RUN               each job's outputs: path, level, size, SHA-256 and the\n"
    "                            disclosure checks' verdict (never contents)\n"
    "release requests (the airlock):\n"
    "  release create --project P [--context TEXT]    one open request per person and project\n"
    "  release add ID PATH --job JOB [--group G] [--context T] [--controls T] [--exception T]\n"    "  release add ID --log stdout|stderr --job JOB   the job's full log, read by the checkers\n"
    "  release remove ID PATH | release submit ID | release withdraw ID\n"
    "  release show ID | release list [--project P]\n"
    "  release download ID -o DIR [PATH...]          once released; members only\n"
    "  review ID --approve FILE | --request-changes FILE --comment TEXT | --submit\n"
    "  review ID --return --comment TEXT | --reject --comment TEXT | --release\n"
    "provenance and audit:\n"
    "  provenance RUN [-o DIR]   the run's Workflow Run RO-Crate (as a BagIt bag with -o)\n"
    "  provenance --job JOB      one job's provenance record\n"
    "  audit list [--after N] | audit proof SEQ\n"
    "  audit verify [--public-key FILE]            fetch and check the whole log\n"
    "  audit verify --db FILE --public-key FILE    check a database copy offline\n"
    "\n"
    "exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 denied\n"
    "\n"
    "The pipeline file reference is docs/pipeline.md.\n";

int Check(const std::vector<std::string>& args) {
  constexpr const char* kCheckUsage = "usage: sluss check [FILE] [--json] [--server URL] [--offline]\n";
  sluss::cli::CheckOptions o;
  bool have_file = false;
  bool offline = false;
  std::string server, token;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      o.json = true;
    } else if (a == "--offline") {
      offline = true;
    } else if ((a == "--server" || a == "--token") && i + 1 < args.size()) {
      (a == "--server" ? server : token) = args[++i];
    } else if (a == "-h" || a == "--help") {
      std::cout << kCheckUsage;
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::cerr << "sluss check: unknown option '" << a << "'\n" << kCheckUsage;
      return 2;
    } else if (have_file) {
      std::cerr << "sluss check: one file at a time\n";
      return 2;
    } else {
      o.file = a;
      have_file = true;
    }
  }
  // The images are checked only against a server named here: a check with
  // none stays offline and quick.
  const char* env = std::getenv("SLUSS_SERVER");
  if (!offline && (!server.empty() || (env && *env))) {
    auto settings = sluss::cli::LoadSettings(server, token);
    if (!settings) {
      std::cerr << "sluss check: " << settings.error().message << "\n";
      return 1;
    }
    o.images = sluss::cli::ServerImageLookup(sluss::cli::Client(*settings));
  }
  return sluss::cli::RunCheck(o, std::cout, std::cerr);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  std::string cmd = args.front();
  args.erase(args.begin());
  if (cmd == "check") return Check(args);
  if (sluss::cli::IsServerCommand(cmd)) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = sluss::cli::RunServerCommand(cmd, args, std::cout, std::cerr);
    curl_global_cleanup();
    return rc;
  }
  if (cmd == "version" || cmd == "--version") {
    std::cout << "sluss 0.1.0\n";
    return 0;
  }
  if (cmd == "help" || cmd == "-h" || cmd == "--help") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "sluss: unknown command '" << cmd << "'\n" << kUsage;
  return 2;
}
