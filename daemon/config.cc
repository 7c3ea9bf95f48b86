#include "daemon/config.h"

#include <algorithm>
#include <charconv>

#include "core/quantity.h"
#include "core/strings.h"
#include "core/yaml.h"
#include "daemon/internal/config_parts.h"

namespace sluss::daemon {

using core::JoinPath;
using core::Quote;
using core::StrCat;
using core::YamlChecker;
using core::YamlNode;

namespace {

constexpr std::string_view kTopKeys[] = {"state_dir", "listen", "runtime",
                                         "executor", "node", "images", "tls",
                                         "log_level", "git", "sandbox",
                                         "audit", "datasets", "slurm", "logs",
                                         "pools"};
constexpr std::string_view kSlurmKeys[] = {"partition", "account", "qos", "conf",
                                           "poll_interval", "lost_grace", "accounting"};
constexpr std::string_view kLogsKeys[] = {"tail_lines", "line_chars"};
constexpr std::string_view kSandboxKeys[] = {"output_fs", "cgroup_parent", "runtime_root",
                                             "cdi_spec", "output_limit", "log_limit",
                                             "sluss_run"};
constexpr std::string_view kAuditKeys[] = {"signing_key", "checkpoint_every",
                                           "checkpoint_interval", "retention", "anchor_dir"};
constexpr std::string_view kGitKeys[] = {"poll_interval", "fetch_timeout", "credentials",
                                         "sluss_fetch", "allowed_signers", "gpg_keyring",
                                         "require_signed", "max_workspace", "max_push",
                                         "local_pusher", "public_url", "max_actions_per_run",
                                         "max_requests", "max_requests_per_person",
                                         "request_timeout", "max_fetch_request"};
constexpr std::string_view kCredentialKeys[] = {"url", "username", "token_file", "ssh_key",
                                                "known_hosts"};
constexpr std::string_view kRuntimeKeys[] = {"name", "path"};
constexpr std::string_view kNodeKeys[] = {"name", "cpus", "memory", "gpus", "disk_reserve"};
constexpr std::string_view kImageKeys[] = {"rootfs", "host"};
constexpr std::string_view kTlsKeys[] = {"cert", "key"};

void NonEmptyPath(YamlChecker& c, const YamlNode& n, const std::string& path,
                  std::string* out) {
  if (auto s = c.String(n, path)) {
    if (s->empty()) {
      c.Report(n.pos, path, "must not be empty");
    } else if (s->find('\0') != std::string::npos) {
      c.Report(n.pos, path, "holds a NUL byte");
    } else {
      *out = *s;
    }
  }
}

void OneOf(YamlChecker& c, const YamlNode& n, const std::string& path,
           std::vector<std::string_view> allowed, std::string* out) {
  auto s = c.String(n, path);
  if (!s) return;
  for (auto a : allowed) {
    if (*s == a) {
      *out = *s;
      return;
    }
  }
  std::vector<std::string> all(allowed.begin(), allowed.end());
  std::string hint = core::ClosestMatch(*s, allowed);
  c.Report(n.pos, path,
           StrCat(Quote(*s), " is not one of ", core::Join(all, ", "),
                  hint.empty() ? std::string() : StrCat(" (did you mean '", hint, "'?)")));
}

}  // namespace

Config DefaultConfig() {
  Config cfg;
  core::YamlChecker c{"default"};
  internal::SettlePools(c, {}, {}, {}, &cfg);
  return cfg;
}

ConfigResult ParseConfig(std::string_view text, std::string_view file) {
  YamlChecker c{std::string(file)};
  Config cfg;
  auto root = core::ParseYaml(text);
  if (!root) {
    c.Report(root.error().pos, "", root.error().message);
    return std::unexpected(c.TakeSorted());
  }
  if (root->IsNull()) return cfg;  // an empty file: all defaults
  auto f = c.Fields(*root, "", kTopKeys);
  if (auto it = f.find("state_dir"); it != f.end()) {
    NonEmptyPath(c, *it->second, "state_dir", &cfg.state_dir);
  }
  if (auto it = f.find("listen"); it != f.end()) {
    if (auto s = c.String(*it->second, "listen")) {
      auto colon = s->rfind(':');
      int port = 0;
      std::string host = colon == std::string::npos ? "" : s->substr(0, colon);
      std::string port_text = colon == std::string::npos ? "" : s->substr(colon + 1);
      auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
      if (host.empty() || ec != std::errc() || p != port_text.data() + port_text.size() ||
          port < 0 || port > 65535) {
        c.Report(it->second->pos, "listen",
                 StrCat(Quote(*s), " is not HOST:PORT (e.g. 127.0.0.1:8470)"));
      } else {
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
          host = host.substr(1, host.size() - 2);
        }
        cfg.listen_host = host;
        cfg.listen_port = port;
      }
    }
  }
  if (auto it = f.find("runtime"); it != f.end()) {
    auto rf = c.Fields(*it->second, "runtime", kRuntimeKeys);
    if (auto n = rf.find("name"); n != rf.end()) {
      OneOf(c, *n->second, "runtime.name", {"runc", "crun"}, &cfg.runtime);
    }
    if (auto n = rf.find("path"); n != rf.end()) {
      NonEmptyPath(c, *n->second, "runtime.path", &cfg.runtime_path);
    }
  }
  if (auto it = f.find("executor"); it != f.end()) {
    OneOf(c, *it->second, "executor", {"local", "slurm"}, &cfg.executor);
  }
  std::map<std::string, const YamlNode*> slurm_keys, nf;
  if (auto it = f.find("slurm"); it != f.end()) {
    slurm_keys = c.Fields(*it->second, "slurm", kSlurmKeys);
    auto& sf = slurm_keys;
    for (auto [key, out] : {std::pair{"partition", &cfg.slurm.partition},
                            std::pair{"account", &cfg.slurm.account},
                            std::pair{"qos", &cfg.slurm.qos}}) {
      if (auto n = sf.find(key); n != sf.end())
        internal::ReadSlurmName(c, *n->second, StrCat("slurm.", key), out);
    }
    if (auto n = sf.find("conf"); n != sf.end()) NonEmptyPath(c, *n->second, "slurm.conf", &cfg.slurm.conf);
    for (auto [key, out, least] : {std::tuple{"poll_interval", &cfg.slurm.poll_seconds, 1},
                                   std::tuple{"lost_grace", &cfg.slurm.lost_grace_seconds, 0}}) {
      auto n = sf.find(key);
      if (n == sf.end()) continue;
      if (!n->second->IsScalar()) {
        c.Report(n->second->pos, StrCat("slurm.", key), "expected a duration such as 5s");
      } else if (auto d = core::ParseDuration(n->second->value); !d) {
        c.Report(n->second->pos, StrCat("slurm.", key), d.error().message);
      } else if (d->count() < least) {
        c.Report(n->second->pos, StrCat("slurm.", key), StrCat("must be at least ", least, "s"));
      } else {
        *out = static_cast<int>(d->count());
      }
    }
    if (auto n = sf.find("accounting"); n != sf.end())
      OneOf(c, *n->second, "slurm.accounting", {"auto", "none"}, &cfg.slurm.accounting);
    if (cfg.executor != "slurm" && !f.count("pools"))
      c.Report(it->second->pos, "slurm", "is set, but executor is not slurm: set `executor: slurm`, or remove it");
  }
  if (auto it = f.find("node"); it != f.end()) {
    nf = c.Fields(*it->second, "node", kNodeKeys);
    if (auto n = nf.find("name"); n != nf.end()) {
      if (auto s = c.String(*n->second, "node.name")) cfg.node_name = *s;
    }
    if (auto n = nf.find("cpus"); n != nf.end())
      internal::ReadCpus(c, *n->second, "node.cpus", &cfg.node_milli_cpus);
    if (auto n = nf.find("memory"); n != nf.end())
      internal::ReadMemory(c, *n->second, "node.memory", &cfg.node_memory_bytes);
    if (auto n = nf.find("disk_reserve"); n != nf.end()) {
      if (!n->second->IsScalar()) {
        c.Report(n->second->pos, "node.disk_reserve", "expected a size such as 1G (0: none)");
      } else if (auto v = core::ParseBytes(n->second->value); !v) {
        c.Report(n->second->pos, "node.disk_reserve", v.error().message);
      } else {
        cfg.disk_reserve_bytes = *v;
      }
    }
    if (auto n = nf.find("gpus"); n != nf.end())
      internal::ReadGpus(c, *n->second, "node.gpus", &cfg.node_gpus);
  }
  if (auto it = f.find("pools"); it != f.end()) internal::ReadPools(c, *it->second, &cfg);
  if (auto it = f.find("images"); it != f.end()) {
    for (auto& [name, node] : c.Entries(*it->second, "images", "image names to images")) {
      std::string path = JoinPath("images", name);
      auto imf = c.Fields(*node, path, kImageKeys);
      if (!node->IsMap()) continue;
      ImageConfig img;
      if (auto h = imf.find("host"); h != imf.end()) {
        if (auto b = c.Bool(*h->second, JoinPath(path, "host"))) img.host = *b;
      }
      if (auto r = imf.find("rootfs"); r != imf.end()) {
        NonEmptyPath(c, *r->second, JoinPath(path, "rootfs"), &img.rootfs);
        if (img.host) c.Report(r->second->pos, JoinPath(path, "rootfs"),
                               "an image is either host: true or has a rootfs, not both");
      } else if (!img.host) {
        c.Report(node->pos, path,
                 "missing 'rootfs' (the image's root directory), or 'host: true'");
      }
      cfg.images.emplace(name, img);
    }
  }
  if (auto it = f.find("tls"); it != f.end()) {
    auto tf = c.Fields(*it->second, "tls", kTlsKeys);
    if (auto n = tf.find("cert"); n != tf.end()) {
      NonEmptyPath(c, *n->second, "tls.cert", &cfg.tls_cert);
    }
    if (auto n = tf.find("key"); n != tf.end()) {
      NonEmptyPath(c, *n->second, "tls.key", &cfg.tls_key);
    }
    if (it->second->IsMap() && (tf.count("cert") != tf.count("key"))) {
      c.Report(it->second->pos, "tls", "set both 'cert' and 'key', or neither");
    }
  }
  if (auto it = f.find("git"); it != f.end()) {
    auto gf = c.Fields(*it->second, "git", kGitKeys);
    if (auto n = gf.find("poll_interval"); n != gf.end()) {
      if (!n->second->IsScalar()) {
        c.Report(n->second->pos, "git.poll_interval", "expected a duration such as 60s");
      } else if (auto d = core::ParseDuration(n->second->value); !d) {
        c.Report(n->second->pos, "git.poll_interval", d.error().message);
      } else if (d->count() < 5) {
        c.Report(n->second->pos, "git.poll_interval", "must be at least 5s");
      } else {
        cfg.git_poll_seconds = static_cast<int>(d->count());
      }
    }
    if (auto n = gf.find("fetch_timeout"); n != gf.end()) {
      if (!n->second->IsScalar()) {
        c.Report(n->second->pos, "git.fetch_timeout", "expected a duration such as 5m");
      } else if (auto d = core::ParseDuration(n->second->value); !d) {
        c.Report(n->second->pos, "git.fetch_timeout", d.error().message);
      } else if (d->count() < 1) {
        c.Report(n->second->pos, "git.fetch_timeout", "must be at least 1s");
      } else {
        cfg.git_fetch_timeout_seconds = static_cast<int>(d->count());
      }
    }
    if (auto n = gf.find("max_workspace"); n != gf.end()) {
      if (!n->second->IsScalar()) {
        c.Report(n->second->pos, "git.max_workspace", "expected a size such as 1G");
      } else if (auto v = core::ParseBytes(n->second->value); !v) {
        c.Report(n->second->pos, "git.max_workspace", v.error().message);
      } else if (*v < (1 << 20)) {
        c.Report(n->second->pos, "git.max_workspace", "must be at least 1M");
      } else {
        cfg.git_max_workspace_bytes = *v;
      }
    }
    if (auto n = gf.find("max_push"); n != gf.end()) {
      if (!n->second->IsScalar()) {
        c.Report(n->second->pos, "git.max_push", "expected a size such as 100M");
      } else if (auto v = core::ParseBytes(n->second->value); !v) {
        c.Report(n->second->pos, "git.max_push", v.error().message);
      } else if (*v < (1 << 20)) {
        c.Report(n->second->pos, "git.max_push", "must be at least 1M");
      } else {
        cfg.git_max_push_bytes = *v;
      }
    }
    if (auto n = gf.find("max_actions_per_run"); n != gf.end()) {
      if (auto v = c.Integer(*n->second, "git.max_actions_per_run", 1, 10'000'000))
        cfg.git_max_actions_per_run = static_cast<int>(*v);
    }
    // The git service's own limits (api/git_http.h): backends at once, of
    // which one person's, how long one may run, a fetch request's size.
    auto count = [&](std::string_view key, std::string_view path, std::int64_t max,
                     std::int64_t* out) {
      auto n = gf.find(std::string(key));
      if (n == gf.end()) return;
      std::int64_t v = 0;
      const std::string& value = n->second->value;
      const bool number = n->second->IsScalar() && !value.empty() && value.size() <= 6 &&
                          value.find_first_not_of("0123456789") == std::string::npos;
      if (number) v = std::stoll(value);
      if (!number || v < 1 || v > max) {
        c.Report(n->second->pos, path, StrCat("expected a whole number from 1 to ", max));
      } else {
        *out = v;
      }
    };
    count("max_requests", "git.max_requests", 1024, &cfg.git_max_requests);
    count("max_requests_per_person", "git.max_requests_per_person", 1024,
          &cfg.git_max_requests_per_person);
    if (auto n = gf.find("max_requests_per_person");
        n != gf.end() && cfg.git_max_requests_per_person > cfg.git_max_requests) {
      c.Report(n->second->pos, "git.max_requests_per_person",
               StrCat("must not be more than git.max_requests (", cfg.git_max_requests, ")"));
    }
    if (auto n = gf.find("request_timeout"); n != gf.end()) {
      if (!n->second->IsScalar()) {
        c.Report(n->second->pos, "git.request_timeout", "expected a duration such as 10m");
      } else if (auto d = core::ParseDuration(n->second->value); !d) {
        c.Report(n->second->pos, "git.request_timeout", d.error().message);
      } else if (d->count() < 10 || d->count() > 24 * 3600) {
        c.Report(n->second->pos, "git.request_timeout", "must be from 10s to 1d");
      } else {
        cfg.git_request_timeout_seconds = static_cast<int>(d->count());
      }
    }
    if (auto n = gf.find("max_fetch_request"); n != gf.end()) {
      if (!n->second->IsScalar()) {
        c.Report(n->second->pos, "git.max_fetch_request", "expected a size such as 16M");
      } else if (auto v = core::ParseBytes(n->second->value); !v) {
        c.Report(n->second->pos, "git.max_fetch_request", v.error().message);
      } else if (*v < (64 << 10) || *v > (std::int64_t{1} << 30)) {
        c.Report(n->second->pos, "git.max_fetch_request", "must be from 64K to 1G");
      } else {
        cfg.git_max_fetch_request_bytes = *v;
      }
    }
    if (auto n = gf.find("local_pusher"); n != gf.end()) {
      if (auto s = c.String(*n->second, "git.local_pusher")) {
        if (s->empty() || s->find_first_of(" \t\r\n'\"\\") != std::string::npos) {
          c.Report(n->second->pos, "git.local_pusher",
                   "expected a person's user name, such as admin@example.org");
        } else {
          cfg.git_local_pusher = *s;
        }
      }
    }
    if (auto n = gf.find("public_url"); n != gf.end()) {
      if (auto s = c.String(*n->second, "git.public_url")) {
        if (!(s->starts_with("https://") || s->starts_with("http://")) ||
            s->find_first_of(" \t\r\n'\"\\?#") != std::string::npos) {
          c.Report(n->second->pos, "git.public_url",
                   "expected the URL people reach slussd at, such as https://sluss.example.org");
        } else {
          cfg.git_public_url = *s;
        }
      }
    }
    if (auto n = gf.find("sluss_fetch"); n != gf.end())
      NonEmptyPath(c, *n->second, "git.sluss_fetch", &cfg.sluss_fetch);
    if (auto n = gf.find("allowed_signers"); n != gf.end())
      NonEmptyPath(c, *n->second, "git.allowed_signers", &cfg.git_allowed_signers);
    if (auto n = gf.find("gpg_keyring"); n != gf.end())
      NonEmptyPath(c, *n->second, "git.gpg_keyring", &cfg.git_gpg_keyring);
    if (auto n = gf.find("require_signed"); n != gf.end()) {
      if (auto b = c.Bool(*n->second, "git.require_signed")) cfg.git_require_signed = *b;
      if (cfg.git_require_signed && cfg.git_allowed_signers.empty() && cfg.git_gpg_keyring.empty())
        c.Report(n->second->pos, "git.require_signed",
                 "needs git.allowed_signers or git.gpg_keyring: the keys that may sign");
    }
    if (auto n = gf.find("credentials"); n != gf.end()) {
      if (!n->second->IsSequence()) {
        c.Report(n->second->pos, "git.credentials",
                 StrCat("expected a list of {url, token_file or ssh_key}, got ", n->second->KindName()));
      } else {
        for (std::size_t i = 0; i < n->second->items.size(); ++i) {
          const YamlNode& item = n->second->items[i];
          std::string path = StrCat("git.credentials[", i, "]");
          auto cf = c.Fields(item, path, kCredentialKeys);
          GitCredentialConfig g;
          for (auto [key, out] : {std::pair{"url", &g.url}, std::pair{"username", &g.username},
                                  std::pair{"token_file", &g.token_file},
                                  std::pair{"ssh_key", &g.ssh_key},
                                  std::pair{"known_hosts", &g.known_hosts}}) {
            if (auto k = cf.find(key); k != cf.end())
              NonEmptyPath(c, *k->second, StrCat(path, ".", key), out);
          }
          if (!item.IsMap()) continue;  // reported by Fields
          if (g.url.empty()) {
            c.Report(item.pos, StrCat(path, ".url"), "is required: the URL prefix these credentials are for");
          } else if (g.token_file.empty() == g.ssh_key.empty()) {
            c.Report(item.pos, path, "needs exactly one of token_file (HTTPS) and ssh_key (SSH)");
          }
          cfg.git_credentials.push_back(std::move(g));
        }
      }
    }
  }
  if (auto it = f.find("datasets"); it != f.end()) {
    c.Report(it->second->pos, "datasets",
             "datasets are no longer configured here: a data steward registers each version "
             "with 'sluss dataset add NAME VERSION PATH' and grants permits for it");
  }
  if (auto it = f.find("logs"); it != f.end()) {
    auto lf = c.Fields(*it->second, "logs", kLogsKeys);
    if (auto n = lf.find("tail_lines"); n != lf.end())
      if (auto v = c.Integer(*n->second, "logs.tail_lines", 1, 100000)) cfg.log_tail_lines = static_cast<int>(*v);
    if (auto n = lf.find("line_chars"); n != lf.end())
      if (auto v = c.Integer(*n->second, "logs.line_chars", 80, 1000000)) cfg.log_line_chars = static_cast<int>(*v);
  }
  if (auto it = f.find("audit"); it != f.end()) {
    auto af = c.Fields(*it->second, "audit", kAuditKeys);
    AuditConfig& a = cfg.audit;
    if (auto n = af.find("signing_key"); n != af.end())
      NonEmptyPath(c, *n->second, "audit.signing_key", &a.signing_key);
    if (auto n = af.find("anchor_dir"); n != af.end())
      NonEmptyPath(c, *n->second, "audit.anchor_dir", &a.anchor_dir);
    if (auto n = af.find("checkpoint_every"); n != af.end()) {
      if (auto v = c.Integer(*n->second, "audit.checkpoint_every", 1, 1'000'000'000))
        a.checkpoint_every = *v;
    }
    for (auto [key, min_s] : {std::pair{"checkpoint_interval", 1LL}, std::pair{"retention", 365LL * 86400}}) {
      auto n = af.find(key);
      if (n == af.end()) continue;
      std::string p = StrCat("audit.", key);
      if (!n->second->IsScalar()) {
        c.Report(n->second->pos, p, "expected a duration such as 5m or 400d");
      } else if (auto d = core::ParseDuration(n->second->value); !d) {
        c.Report(n->second->pos, p, d.error().message);
      } else if (d->count() < min_s) {
        c.Report(n->second->pos, p,
                 min_s > 1 ? "must be at least 365d: the EHDS keeps access logs for at least a year"
                           : "must be at least 1s");
      } else if (std::string_view(key) == "retention") {
        a.retention_days = d->count() / 86400;
      } else {
        a.checkpoint_interval_s = static_cast<int>(d->count());
      }
    }
  }
  if (auto it = f.find("sandbox"); it != f.end()) {
    auto sf = c.Fields(*it->second, "sandbox", kSandboxKeys);
    SandboxConfig& sb = cfg.sandbox;
    if (auto n = sf.find("output_fs"); n != sf.end())
      OneOf(c, *n->second, "sandbox.output_fs", {"loop", "none"}, &sb.output_fs);
    if (auto n = sf.find("cgroup_parent"); n != sf.end()) {
      NonEmptyPath(c, *n->second, "sandbox.cgroup_parent", &sb.cgroup_parent);
      if (!sb.cgroup_parent.starts_with("/"))
        c.Report(n->second->pos, "sandbox.cgroup_parent", "must be absolute, such as /sluss");
    }
    if (auto n = sf.find("runtime_root"); n != sf.end())
      NonEmptyPath(c, *n->second, "sandbox.runtime_root", &sb.runtime_root);
    if (auto n = sf.find("cdi_spec"); n != sf.end())
      NonEmptyPath(c, *n->second, "sandbox.cdi_spec", &sb.cdi_spec);
    if (auto n = sf.find("sluss_run"); n != sf.end())
      NonEmptyPath(c, *n->second, "sandbox.sluss_run", &sb.sluss_run);
    for (auto [key, out] : {std::pair{"output_limit", &sb.output_bytes},
                            std::pair{"log_limit", &sb.log_bytes}}) {
      auto n = sf.find(key);
      if (n == sf.end()) continue;
      std::string p = StrCat("sandbox.", key);
      if (!n->second->IsScalar()) {
        c.Report(n->second->pos, p, "expected a size such as 10G");
      } else if (auto v = core::ParseBytes(n->second->value); !v) {
        c.Report(n->second->pos, p, v.error().message);
      } else if (*v < (1 << 20)) {
        c.Report(n->second->pos, p, "must be at least 1M");
      } else {
        *out = *v;
      }
    }
  }
  if (auto it = f.find("log_level"); it != f.end()) {
    OneOf(c, *it->second, "log_level", {"debug", "info", "warn", "error"},
          &cfg.log_level);
  }
  internal::SettlePools(c, f, nf, slurm_keys, &cfg);
  if (!c.diagnostics().empty()) return std::unexpected(c.TakeSorted());
  return cfg;
}

}  // namespace sluss::daemon
