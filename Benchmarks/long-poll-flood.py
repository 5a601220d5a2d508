#!/usr/bin/env python3
"""Issue 23's long-poll flood, against a real `signoff serve`: one service token opens 20,000 gate long polls at once.

    python3 Benchmarks/long-poll-flood.py --signoff .build-release/release/signoff [--polls 20000] [--wait 20] [--runs 1]

A fresh ledger in a temporary directory (an administrator, the service account ci-bot with a scoped token, the project
webshop on workflows/standard.yaml, REQ-1 filed and waiting for an approval), `signoff serve` on a free loopback port
with its default caps, then per run:
  - `--polls` concurrent `GET /v1/requests/REQ-1/gate?…&wait=…` with the one token (raw HTTP/1.1 over asyncio, in
    as many processes as RLIMIT_NOFILE needs — raised to its hard limit first — all starting at the same instant);
  - meanwhile the server's resident memory (VmRSS in /proc/PID/status) and open descriptors, sampled every 50 ms;
  - meanwhile, from a separate process, a normal read (`GET /v1/requests/REQ-1`) timed again and again.
It prints the answers by status (200: held and answered at the end of its wait; 429: over a cap, answered at once),
the highest RSS and the normal read's median and max beside their limits (RSS < 200 MiB, the read's median < 100 ms;
its max is shown), and exits non-zero if a limit is exceeded or an answer is neither 200 nor 429. Every process it
starts is ended, also on failure. Not part of `make test`: `make bench-long-poll-flood`.
"""
import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "python"))
import signoff_process  # noqa: E402
from signoff_process import Failure, check  # noqa: E402

PROJECT, ENV = "webshop", "staging"
RSS_LIMIT_MIB = 200
READ_LIMIT_MS = 100


def say(message):
    print(f"long-poll-flood: {message}", flush=True)


def raise_fd_limit(wanted):
    """Enough descriptors for `wanted` sockets, in this process and in the server it starts (which inherits them)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in (max(wanted, hard), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
            break
        except (ValueError, OSError):
            continue
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft


class World:
    def __init__(self, signoff, workdir):
        self.bin, self.dir = str(Path(signoff).resolve()), Path(workdir)
        self.db = str(self.dir / "signoff.sqlite")
        home = self.dir / "home"
        home.mkdir()
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
                    "SIGNOFF_PASSPHRASE": "bench passphrase", "SIGNOFF_LEDGER_PASSPHRASE": "bench ledger passphrase"}
        self.server = None
        self.url = None
        self.token = None
        self.digest = "sha256:" + hashlib.sha256(b"webshop-1.0.0").hexdigest()

    def cli(self, *args, env=None):
        return signoff_process.run(self.bin, args, env or self.env, self.dir, timeout=120)

    def local(self, *args):
        return self.cli(*args, "--db", self.db, "--as", "ada")

    def set_up(self):
        for name in ["ada", "morgan", "ci-bot"]:
            self.cli("key", "generate", "--name", name, "--out", str(self.dir / f"{name}.key"))
        self.cli("init", "--db", self.db, "--origin", "bench.signoff/ledger", "--admin", "ada",
                 "--admin-key", str(self.dir / "ada.key.pub"))
        self.local("user", "add", "morgan", "--key-file", str(self.dir / "morgan.key.pub"))
        self.local("service-account", "add", "ci-bot", "--key-file", str(self.dir / "ci-bot.key.pub"))
        for group, member in [("approvers", "morgan"), ("ci", "ci-bot"), ("deployers", None), ("platform", None),
                              ("compliance", None)]:
            self.local("group", "add", group)
            if member:
                self.local("group", "add-member", group, member)
        self.local("workflow", "apply", str(ROOT / "workflows" / "standard.yaml"))
        self.local("project", "create", PROJECT, "--env", f"{ENV}=standard", "--role", "requesters=ci",
                   "--role", "ci=ci", "--role", "approvers=approvers", "--role", "platform=platform",
                   "--role", "compliance=compliance", "--role", "deployers=deployers")

    def serve(self, extra):
        self.server, self.url = signoff_process.serve(self.bin, ["--db", self.db, "--log-level", "error", *extra],
                                                      self.env, self.dir, self.dir / "server.log")
        self.cli("login", "--server", self.url, "--as", "ada", "--key", str(self.dir / "ada.key"),
                 "--token-file", str(self.dir / "ada.token"))
        scopes = [arg for action in ["request", "read", "gate"] for arg in ("--scope", f"{action}:{PROJECT}")]
        issued = self.cli("token", "create", "--service-account", "ci-bot", *scopes, "--ttl", "1h", "--json",
                          "--server", self.url, "--as", "ada", "--token-file", str(self.dir / "ada.token"))
        self.token = json.loads(issued.stdout)["token"]
        ci = dict(self.env, SIGNOFF_SERVER=self.url, SIGNOFF_TOKEN=self.token)
        filed = self.cli("request", "create", "--project", PROJECT, "--env", ENV, "--bundle", "webshop-1.0.0.zip",
                         "--digest", self.digest, env=ci)
        check(filed.stdout.strip() == "REQ-1", f"expected REQ-1, got {filed.stdout.strip()!r}")

    def stop(self):
        signoff_process.stop(self.server, grace=10, say=say)


async def one_poll(host, port, path, token, connecting, statuses):
    """One long poll over its own connection: the status of its answer, or the error that ended it."""
    writer = None
    try:
        async with connecting:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                         f"Connection: close\r\n\r\n".encode())
            await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout=300)
        parts = line.split()
        status = parts[1].decode() if len(parts) >= 2 else "no answer"
        await reader.read()  # to the end: the server closes after its answer
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as error:
        status = type(error).__name__
    finally:
        if writer is not None:
            writer.close()
    statuses[status] = statuses.get(status, 0) + 1


def sample(pid, stop, samples):
    """VmRSS (KiB) and open descriptors of the server, every 50 ms, until `stop` is set."""
    while not stop.is_set():
        try:
            with open(f"/proc/{pid}/status") as f:
                rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            fds = len(os.listdir(f"/proc/{pid}/fd"))
            samples.append((rss, fds))
        except (OSError, StopIteration):
            pass
        stop.wait(0.05)


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


PROBE = r"""
import http.client, json, sys, time
host, port, token, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
times, statuses, end = [], [], time.monotonic() + seconds
while time.monotonic() < end:
    started = time.perf_counter()
    try:
        c = http.client.HTTPConnection(host, port, timeout=60)
        c.request("GET", "/v1/requests/REQ-1", headers={"Authorization": "Bearer " + token})
        r = c.getresponse(); r.read(); c.close()
        statuses.append(r.status)
    except OSError as e:
        statuses.append(str(e))
    times.append((time.perf_counter() - started) * 1000)
    time.sleep(0.25)
print(json.dumps({"ms": times, "statuses": statuses}))
"""


async def polls_of_one_worker(host, port, path, token, polls):
    statuses = {}
    connecting = asyncio.Semaphore(500)  # connects in flight at once: the listen backlog, not the polls, is bounded
    await asyncio.gather(*(one_poll(host, port, path, token, connecting, statuses) for _ in range(polls)))
    return statuses


def worker(host, port, path, token, polls, start, results):
    """One process's share of the polls (a process holds at most RLIMIT_NOFILE sockets), from the same instant."""
    time.sleep(max(0.0, start - time.time()))
    results.put(asyncio.run(polls_of_one_worker(host, port, path, token, polls)))


def flood(world, polls, wait, probe_seconds, per_worker):
    host, port = "127.0.0.1", int(world.url.rsplit(":", 1)[1])
    path = f"/v1/requests/REQ-1/gate?environment={ENV}&digest={world.digest}&wait={wait}"
    stop, samples = threading.Event(), []
    sampler = threading.Thread(target=sample, args=(world.server.pid, stop, samples), daemon=True)
    sampler.start()
    results = multiprocessing.Queue()
    shares = [min(per_worker, polls - i) for i in range(0, polls, per_worker)]
    start = time.time() + 0.5
    workers = [multiprocessing.Process(target=worker, args=(host, port, path, world.token, share, start, results))
               for share in shares]
    probe = None
    statuses = {}
    try:
        for w in workers:
            w.start()
        time.sleep(max(0.0, start - time.time()))
        probe = subprocess.Popen([sys.executable, "-c", PROBE, host, str(port), world.token, str(probe_seconds)],
                                 stdout=subprocess.PIPE, text=True)
        started = time.monotonic()
        for _ in workers:
            for status, count in results.get(timeout=600).items():
                statuses[status] = statuses.get(status, 0) + count
        elapsed = time.monotonic() - started
        out, _ = probe.communicate(timeout=probe_seconds + 120)
    finally:
        for w in workers:
            if w.is_alive():
                w.kill()
            w.join()
        if probe is not None and probe.poll() is None:
            probe.kill()
            probe.wait()
        stop.set()
        sampler.join()
    probed = json.loads(out)
    return statuses, samples, probed, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signoff", default=str(ROOT / ".build-release" / "release" / "signoff"))
    parser.add_argument("--polls", type=int, default=20_000)
    parser.add_argument("--wait", type=int, default=20, help="each long poll's wait=, in seconds (at most 50)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures of each run as JSON too")
    parser.add_argument("--serve-arg", action="append", default=[],
                        help="an option for signoff serve, e.g. --serve-arg=--max-waiters-per-principal=100000 (repeatable)")
    args = parser.parse_args()
    limit = raise_fd_limit(args.polls + 1_000)
    # Each worker process holds its share of the connections; the server (which inherits the limit) all it accepts.
    per_worker = max(1, min(args.polls, limit - 500))
    check(per_worker >= 1_000, f"RLIMIT_NOFILE is {limit}: too few descriptors")
    workdir = tempfile.mkdtemp(prefix="signoff-flood-")
    world = World(args.signoff, workdir)
    ok = True
    try:
        world.set_up()
        world.serve(args.serve_arg)
        idle = rss_mib(world.server.pid)
        say(f"server {world.url} (pid {world.server.pid}), RSS at rest {idle:.1f} MiB; {args.polls} long polls, "
            f"wait={args.wait}, one token")
        for run in range(1, args.runs + 1):
            statuses, samples, probed, elapsed = flood(world, args.polls, args.wait, args.wait + 5, per_worker)
            time.sleep(2)
            after = rss_mib(world.server.pid)
            rss = max(s[0] for s in samples) / 1024 if samples else float("nan")
            fds = max(s[1] for s in samples) if samples else 0
            ms = probed["ms"]
            median, worst = statistics.median(ms), max(ms)
            reads_ok = all(s == 200 for s in probed["statuses"])
            only_200_429 = set(statuses) <= {"200", "429"}
            run_ok = rss < RSS_LIMIT_MIB and median < READ_LIMIT_MS and reads_ok and only_200_429
            ok = ok and run_ok
            print(f"run {run}/{args.runs}: {args.polls} long polls in {elapsed:.1f} s — answers "
                  + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
            print(f"  server RSS, highest    {rss:8.1f} MiB   limit < {RSS_LIMIT_MIB} MiB   "
                  f"{'met' if rss < RSS_LIMIT_MIB else 'EXCEEDED'}")
            print(f"  server RSS, 2 s after  {after:8.1f} MiB")
            print(f"  server descriptors     {fds:8d}       (highest open at once)")
            print(f"  normal read, median    {median:8.1f} ms    limit < {READ_LIMIT_MS} ms    "
                  f"{'met' if median < READ_LIMIT_MS else 'EXCEEDED'}   ({len(ms)} reads during the flood)")
            print(f"  normal read, max       {worst:8.1f} ms")
            if not reads_ok:
                print(f"  normal reads that failed: {[s for s in probed['statuses'] if s != 200][:5]}")
            if not only_200_429:
                print("  answers other than 200 and 429: the flood was not answered cleanly")
            if args.json:
                print(json.dumps({"run": run, "polls": args.polls, "wait": args.wait, "answers": statuses,
                                  "rss_max_mib": round(rss, 1), "rss_after_mib": round(after, 1), "fds_max": fds, "read_median_ms": round(median, 1),
                                  "read_max_ms": round(worst, 1), "reads": len(ms), "elapsed_s": round(elapsed, 1)}))
        # After the flood every slot is back: a long poll is held again.
        with_wait = f"/v1/requests/REQ-1/gate?environment={ENV}&digest={world.digest}&wait=1"
        import urllib.request
        request = urllib.request.Request(world.url + with_wait, headers={"Authorization": f"Bearer {world.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            check(response.status == 200, f"after the flood a long poll was answered {response.status}")
    except Failure as failure:
        say(f"FAIL: {failure}")
        ok = False
    finally:
        world.stop()
        subprocess.run(["rm", "-rf", workdir])
    say("PASS" if ok else "FAIL: a limit was exceeded")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
