#!/usr/bin/env python3
"""The abuse cases of issue 18 against a running slussd (bench/abuse.sh).

    abuse.py URL TOKEN JOB_ID SLUSSD_PID

For each case: a separate process probes GET /healthz every 20 ms (a new
connection each time, 2 s timeout) and slussd's peak RSS (VmHWM) is read,
reset before the case where /proc/PID/clear_refs allows it. Prints one line
per case: probes, failed probes, /healthz p50 and p99 (ms), peak RSS (MiB).
Loopback only; every case is bounded in time.
"""
import asyncio
import multiprocessing
import random
import resource
import socket
import sys
import time
import urllib.parse


def rss_peak_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid):
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def probe(host, port, stop, out):
    """GET /healthz every 20 ms until `stop` is set; latencies in ms, or None."""
    lat = []
    req = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                s.sendall(req)
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            ok = data.startswith(b"HTTP/1.1 200")
        except OSError:
            ok = False
        lat.append((time.perf_counter() - t0) * 1000 if ok else None)
        time.sleep(max(0.0, 0.02 - (time.perf_counter() - t0)))
    out.put(lat)


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))]


async def limited(n, concurrency, fn):
    sem = asyncio.Semaphore(concurrency)

    async def one(i):
        async with sem:
            try:
                await fn(i)
            except (OSError, asyncio.TimeoutError):
                pass

    await asyncio.gather(*(one(i) for i in range(n)))


async def read_reply(reader, timeout=10):
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    if length:
        await asyncio.wait_for(reader.readexactly(length), timeout)
    return head


def case_follows(host, port, token, job):
    """1,000 follows of a held job's log, each hung up 0-300 ms in."""
    req = (f"GET /v1/jobs/{job}/logs?follow=1 HTTP/1.1\r\nHost: x\r\n"
           f"Authorization: Bearer {token}\r\n\r\n").encode()

    async def one(i):
        r, w = await asyncio.open_connection(host, port)
        w.write(req)
        await w.drain()
        # Some hang up before the answer, most while it streams.
        await asyncio.sleep(random.uniform(0, 0.3))
        w.transport.abort()  # a hang-up, not a clean close

    return limited(1000, 50, one)


def case_anonymous(host, port):
    """5,000 requests with no token (each a 401), 100 at a time, keep-alive."""
    req = b"GET /v1/projects HTTP/1.1\r\nHost: x\r\n\r\n"

    async def conn(i):
        r, w = await asyncio.open_connection(host, port)
        for _ in range(50):
            w.write(req)
            await w.drain()
            await read_reply(r)
        w.close()

    return limited(100, 100, conn)


def case_bodies(host, port):
    """1,500 anonymous POSTs with a 1 MB body, 300 at a time."""
    body = b"x" * (1 << 20)
    head = (b"POST /v1/projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))

    async def one(i):
        r, w = await asyncio.open_connection(host, port)
        w.write(head)
        for k in range(0, len(body), 65536):
            w.write(body[k:k + 65536])
            await asyncio.wait_for(w.drain(), 10)
        await read_reply(r)
        w.close()

    return limited(1500, 300, one)


def case_idle(host, port):
    """5,000 connections that send nothing, held 5 s."""
    async def run():
        conns = []
        for i in range(5000):
            try:
                conns.append(await asyncio.open_connection(host, port))
            except OSError:
                break
        await asyncio.sleep(5)
        for _, w in conns:
            w.transport.abort()
        return len(conns)

    return run()


def main():
    url, token, job, pid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    u = urllib.parse.urlparse(url)
    host, port = u.hostname, u.port
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))
    random.seed(18)
    cases = [
        ("1,000 follows hung up", lambda: case_follows(host, port, token, job)),
        ("5,000 anonymous requests", lambda: case_anonymous(host, port)),
        ("1,500 x 1 MB bodies", lambda: case_bodies(host, port)),
        ("5,000 idle connections, 5 s", lambda: case_idle(host, port)),
    ]
    print(f"{'case':30} {'secs':>6} {'probes':>7} {'failed':>7} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'peak RSS MiB':>13}")
    base = rss_peak_mib(pid)
    print(f"{'(idle, at start)':30} {'':>6} {'':>7} {'':>7} {'':>8} {'':>8} {base:13.1f}")
    for name, make in cases:
        reset = reset_peak(pid)
        stop = multiprocessing.Event()
        out = multiprocessing.Queue()
        prober = multiprocessing.Process(target=probe, args=(host, port, stop, out))
        prober.start()
        time.sleep(0.2)
        t0 = time.perf_counter()
        try:
            asyncio.run(asyncio.wait_for(make(), 40))
        except asyncio.TimeoutError:
            name += " (cut at 40 s)"
        secs = time.perf_counter() - t0
        time.sleep(0.2)
        stop.set()
        lat = out.get()
        prober.join()
        ok = [x for x in lat if x is not None]
        peak = rss_peak_mib(pid)
        print(f"{name:30} {secs:6.1f} {len(lat):7d} {len(lat) - len(ok):7d} {pct(ok, 50):8.2f} "
              f"{pct(ok, 99):8.2f} {peak:13.1f}{'' if reset else ' (since start)'}", flush=True)


if __name__ == "__main__":
    main()
