#!/usr/bin/python3
"""One line of bench/dag.sh's figures for a finished run, from slussd's API.

    dag_lag.py PUSH_START_NS CPUS RUN_ID     (SLUSS_URL, SLUSS_TOKEN set)

Prints: wall, critical path's own run time, lag (wall - critical path),
least wall time on this node, lag beyond that, jobs, mean slot time (ms).

A job holds its slot from the engine's decision to start it (its
`preparing` event) to its recorded end: workspace, sandbox, the job's
process, the result. The least wall time any schedule could take on this
node is the larger of the jobs' slot times over the CPUs and the DAG's
longest path in slot times.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime


def get(path):
    req = urllib.request.Request(os.environ["SLUSS_URL"] + path,
                                 headers={"Authorization": "Bearer " + os.environ["SLUSS_TOKEN"]})
    for _ in range(100):
        try:
            with urllib.request.urlopen(req) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            # A thousand reads in a row meet the token's rate limit: wait.
            if e.code != 429:
                raise
            time.sleep(float(e.headers.get("Retry-After", "1")))
    raise SystemExit("dag_lag.py: still rate-limited after 100 tries")


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def main():
    t0, cpus, run_id = int(sys.argv[1]) / 1e9, int(sys.argv[2]), sys.argv[3]
    jobs = get("/v1/runs/%s" % run_id)["jobs"]
    by_id = {j["id"]: j for j in jobs}
    run = {j["id"]: (j["result"] or {}).get("wall_seconds", 0.0) for j in jobs}
    slot = {}
    for j in jobs:
        events = get("/v1/jobs/%d/events" % j["id"])["events"]
        start = min(ts(e["at"]) for e in events if e["to"] == "preparing")
        slot[j["id"]] = ts(j["ended_at"]) - start

    def longest(cost):
        memo = {}

        def path(i):
            if i not in memo:
                memo[i] = cost[i] + max((path(n) for n in by_id[i]["needs"]), default=0.0)
            return memo[i]
        return max(path(i) for i in by_id)

    wall = max(ts(j["ended_at"]) for j in jobs) - t0
    critical = longest(run)
    bound = max(sum(slot.values()) / cpus, longest(slot))
    print("%.3f %.3f %.3f %.3f %.3f %d %.1f" % (wall, critical, wall - critical, bound, wall - bound,
                                              len(jobs), 1000 * sum(slot.values()) / len(jobs)))


if __name__ == "__main__":
    main()
