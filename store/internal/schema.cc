#include "store/internal/schema.h"

namespace sluss::store::internal {

const std::vector<const char*>& Migrations() {
  static const std::vector<const char*> migrations = {
      // 1: projects, runs, jobs, their dependencies and their events.
      R"sql(
CREATE TABLE projects (
  name        TEXT PRIMARY KEY,
  description TEXT NOT NULL DEFAULT '',
  repo_url    TEXT NOT NULL DEFAULT '',
  branches    TEXT NOT NULL DEFAULT '[]',
  quota       TEXT NOT NULL DEFAULT '{}',
  created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE runs (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  project      TEXT NOT NULL REFERENCES projects(name),
  commit_sha   TEXT NOT NULL DEFAULT '',
  ref          TEXT NOT NULL DEFAULT '',
  trigger      TEXT NOT NULL DEFAULT '',
  submitted_by TEXT NOT NULL DEFAULT '',
  state        TEXT NOT NULL,
  errors       TEXT NOT NULL DEFAULT '[]',
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX runs_by_project ON runs(project, id);
CREATE INDEX runs_by_state ON runs(state, id);

CREATE TABLE jobs (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id     INTEGER NOT NULL REFERENCES runs(id),
  project    TEXT NOT NULL REFERENCES projects(name),
  action     TEXT NOT NULL,
  state      TEXT NOT NULL,
  status     TEXT NOT NULL,
  reason     TEXT NOT NULL DEFAULT '',
  attempt    INTEGER NOT NULL DEFAULT 1,
  spec       TEXT NOT NULL,
  cache_key  TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  started_at INTEGER,
  ended_at   INTEGER,
  exit_code  INTEGER,
  UNIQUE (run_id, action)
) STRICT;
CREATE INDEX jobs_by_state ON jobs(state, project);
CREATE INDEX jobs_by_cache_key ON jobs(project, cache_key);

CREATE TABLE job_needs (
  job_id   INTEGER NOT NULL REFERENCES jobs(id),
  needs_id INTEGER NOT NULL REFERENCES jobs(id),
  PRIMARY KEY (job_id, needs_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX job_needs_reverse ON job_needs(needs_id);

-- Every transition of every job, append-only.
CREATE TABLE job_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id      INTEGER NOT NULL REFERENCES jobs(id),
  at          INTEGER NOT NULL,
  from_status TEXT,
  to_status   TEXT NOT NULL,
  reason      TEXT NOT NULL DEFAULT '',
  attempt     INTEGER NOT NULL
) STRICT;
CREATE INDEX job_events_by_job ON job_events(job_id, id);
CREATE TRIGGER job_events_no_update BEFORE UPDATE ON job_events
  BEGIN SELECT RAISE(ABORT, 'job_events is append-only'); END;
CREATE TRIGGER job_events_no_delete BEFORE DELETE ON job_events
  BEGIN SELECT RAISE(ABORT, 'job_events is append-only'); END;
)sql",
      // 2: users, project membership, API tokens (hashed).
      R"sql(
CREATE TABLE users (
  name       TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE members (
  project TEXT NOT NULL REFERENCES projects(name),
  user    TEXT NOT NULL REFERENCES users(name),
  PRIMARY KEY (project, user)
) STRICT, WITHOUT ROWID;
CREATE INDEX members_by_user ON members(user);

CREATE TABLE tokens (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  user         TEXT NOT NULL REFERENCES users(name),
  role         TEXT NOT NULL,
  name         TEXT NOT NULL DEFAULT '',
  secret_hash  TEXT NOT NULL UNIQUE,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER,
  revoked_at   INTEGER,
  last_used_at INTEGER
) STRICT;
)sql",
      // 3: operator settings (queue paused, nodes drained).
      R"sql(
CREATE TABLE settings (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
)sql",
      // 4: one run per pushed commit and branch, across restarts.
      R"sql(
ALTER TABLE runs ADD COLUMN dedupe_key TEXT;
CREATE UNIQUE INDEX runs_by_dedupe_key ON runs(dedupe_key) WHERE dedupe_key IS NOT NULL;
)sql",
      // 5: where a job runs, what it used and produced, and retry backoff.
      R"sql(
ALTER TABLE jobs ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN gpus TEXT NOT NULL DEFAULT '[]';
ALTER TABLE jobs ADD COLUMN result TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN eligible_at INTEGER;
)sql",
      // 6: the audit log (append-only: triggers refuse UPDATE and DELETE;
      // payloads alone may be deleted, after retention), its signed
      // checkpoints, dataset versions and data permits.
      R"sql(
CREATE TABLE audit (
  seq          INTEGER PRIMARY KEY,
  at           INTEGER NOT NULL,
  actor        TEXT NOT NULL,
  action       TEXT NOT NULL,
  subject      TEXT NOT NULL,
  payload_hash TEXT NOT NULL,
  prev_hash    TEXT NOT NULL,
  hash         TEXT NOT NULL
) STRICT;
CREATE TABLE audit_payloads (
  seq     INTEGER PRIMARY KEY REFERENCES audit(seq),
  payload TEXT NOT NULL
) STRICT;
CREATE TABLE audit_checkpoints (
  tree_size INTEGER PRIMARY KEY,
  root      TEXT NOT NULL,
  at        INTEGER NOT NULL,
  key_id    TEXT NOT NULL,
  signature TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_payloads_no_update BEFORE UPDATE ON audit_payloads
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE datasets (
  name          TEXT NOT NULL,
  version       TEXT NOT NULL,
  path          TEXT NOT NULL,
  state         TEXT NOT NULL,
  id            TEXT NOT NULL DEFAULT '',
  files         INTEGER NOT NULL DEFAULT 0,
  bytes         INTEGER NOT NULL DEFAULT 0,
  hashed_bytes  INTEGER NOT NULL DEFAULT 0,
  error         TEXT NOT NULL DEFAULT '',
  registered_by TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  verified_at   INTEGER,
  PRIMARY KEY (name, version)
) STRICT;
CREATE TABLE permits (
  id            TEXT PRIMARY KEY,
  project       TEXT NOT NULL REFERENCES projects(name),
  body          TEXT NOT NULL,
  granted_by    TEXT NOT NULL,
  granted_at    INTEGER NOT NULL,
  revoked_at    INTEGER,
  revoked_by    TEXT NOT NULL DEFAULT '',
  revoke_reason TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX permits_by_project ON permits(project);
)sql",
      // 7: a run's jobs by index, not by scanning every job (each status
      // change derives its run's state from them).
      R"sql(
CREATE INDEX jobs_by_run ON jobs(run_id, status);
)sql",
      // 8: what an attempt used, as columns written from the typed result
      // (core::JobResult) when it is stored, so that accounting reads no
      // JSON keys. Rows from before are filled once, here.
      R"sql(
ALTER TABLE jobs ADD COLUMN used_cpu_seconds REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN used_wall_seconds REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN used_gpus INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET
  used_cpu_seconds = coalesce(json_extract(result, '$.cpu_seconds'), 0),
  used_wall_seconds = coalesce(json_extract(result, '$.wall_seconds'), 0),
  used_gpus = coalesce(json_array_length(result, '$.gpus'), 0)
WHERE json_valid(result);
)sql",
      // 9: the resources an attempt was placed with (what the sandbox
      // enforces), kept with the job: a quota lowered while it runs does
      // not change them.
      R"sql(
ALTER TABLE jobs ADD COLUMN placed_milli_cpus INTEGER;
ALTER TABLE jobs ADD COLUMN placed_memory_bytes INTEGER;
ALTER TABLE jobs ADD COLUMN placed_time_s INTEGER;
ALTER TABLE jobs ADD COLUMN placed_disk_bytes INTEGER;
)sql",
      // 10: a project's disk: the bytes each job's last attempt kept as
      // outputs (from its result), and the bytes of its workspace while it
      // runs (set when it starts; removed with the workspace at its end).
      R"sql(
ALTER TABLE jobs ADD COLUMN output_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN workspace_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET output_bytes = coalesce(
  (SELECT sum(json_extract(o.value, '$.size')) FROM json_each(result, '$.outputs') o), 0)
WHERE json_valid(result);
)sql",
      // 11: release requests (the airlock). The record is one JSON body
      // (core::Release: files frozen by hash, groups, votes, comments,
      // history); the columns are what is searched and the rule that a
      // person has one open request per project. `version` guards against
      // two changes made from the same read.
      R"sql(
CREATE TABLE IF NOT EXISTS releases (
  id         INTEGER PRIMARY KEY,
  project    TEXT NOT NULL REFERENCES projects(name),
  author     TEXT NOT NULL,
  state      TEXT NOT NULL,
  version    INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  body       TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS releases_one_open ON releases(project, author)
  WHERE state IN ('pending', 'submitted', 'partially_reviewed', 'reviewed', 'approved',
                  'returned');
CREATE INDEX IF NOT EXISTS releases_by_project ON releases(project, id);
)sql",
  };
  return migrations;
}

}  // namespace sluss::store::internal
