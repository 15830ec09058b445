"""Agentless inventory throughput: ``fedharden scan --inventory`` of 500 hosts over SSH.

A few real sshd processes (tests/sshd.py: their own host keys and config) serve this machine
in a private network namespace that holds only a loopback interface, so each one listens on
every 127.0.0.0/8 address. The inventory has one entry per distinct address
(127.1.x.y, the port of one of the servers), the known_hosts file one line per entry with that
server's key, as an operator's file for 500 hosts has. The login is an unprivileged account
with ``--sudo`` and the documented one-line sudoers grant (docs/ssh.md), every shipped
directive, JSON reports to ``--output-dir``.

For each ``--jobs`` value, and for the scanner as it was before this benchmark's work
(``--baseline-ref``, extracted from git and run with the same interpreter, on the first
``--baseline-hosts`` entries of the same inventory and known_hosts) in the same run:

- hosts/s (wall), CPU-seconds per host of the scanner and of the servers (sshd, sudo and
  sftp-server), the machine's load;
- peak RSS of the scanner's process tree (sampled), also with a fifth of the hosts to show
  it does not grow with the inventory;
- the share of the scanner's time per host in connection set-up (TCP, key exchange, login,
  SFTP start), transfers (waiting on SFTP waves and commands) and judging (gathering facts
  from what was fetched, checks, the report) and writing, from the per-host phase timings
  the scanner writes when ``FEDHARDEN_INVENTORY_STATS`` names a file.

Needs root (network namespace, sshd, the account, sudoers). Usage:
.venv/bin/python benchmarks/inventory.py [--hosts 500] [--jobs 2,4,8,16] -> benchmarks/results/inventory.json
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from io import BytesIO
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
TARGET_HOSTS_PER_S = 500 / 60
BASELINE_REF = "deca12b"  # the scanner before the inventory throughput work (issue 23, target 1)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def load_sshd_helper() -> Any:
    spec = importlib.util.spec_from_file_location("fedharden_tests_sshd", REPO / "tests" / "sshd.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from the kernel's children lists."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid: int) -> int:
    """Proportional set size: pages shared by forked processes counted once in all."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_s(pid: int) -> float:
    """CPU seconds of a process and of its children it has waited for (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK  # utime stime cutime cstime


class ServerCpu:
    """CPU seconds of the servers and of everything they start (per connection an sshd, sudo and
    sftp-server). A cgroup (v2) of their own counts every process that ever ran in it, exited
    ones included; without one that can be made here, the listeners' own times and those of the
    children they reaped (/proc/PID/stat), which miss the sessions' processes that were not
    waited for by a listener: on this machine that was most of sftp-server's time."""

    def __init__(self, servers: list[Any]) -> None:
        self.servers = servers
        self.group: Path | None = None
        mount = next((line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
                      if line.split()[2] == "cgroup2"), None)
        if mount is not None:
            try:
                group = Path(mount) / f"fedharden-inventory-bench-{os.getpid()}"
                group.mkdir()
                self.group = group
            except OSError:
                pass

    @property
    def accounting(self) -> str:
        return "cgroup" if self.group is not None else "reaped children only"

    def join(self) -> None:
        """Move the started listeners in: every connection they fork is then counted."""
        if self.group is not None:
            for server in self.servers:
                (self.group / "cgroup.procs").write_text(f"{server.process.pid}\n")

    def seconds(self) -> float:
        if self.group is not None:
            stat = dict(line.split() for line in (self.group / "cpu.stat").read_text().splitlines())
            return int(stat["usage_usec"]) / 1e6
        return sum(cpu_s(s.process.pid) for s in self.servers)

    def close(self) -> None:
        """Remove the cgroup once the servers' last processes have left it (bounded wait)."""
        if self.group is None:
            return
        for _ in range(50):
            try:
                self.group.rmdir()
                return
            except OSError:
                time.sleep(0.1)


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


def loadavg() -> float:
    with open("/proc/loadavg") as fh:
        return float(fh.read().split()[0])


def run_scanner(argv: list[str], env: dict[str, str], servers: ServerCpu) -> dict[str, Any]:
    """Wall time, CPU and peak RSS (the process tree, sampled every 50 ms) of one scanner run."""
    sshd_before = servers.seconds()
    busy_before, total_before = machine_busy()
    load_before = loadavg()
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        rounds = 0
        while not done.wait(0.05):
            pids = tree(proc.pid)
            peak[0] = max(peak[0], sum(rss_kb(p) for p in pids))
            rounds += 1
            if rounds % 10 == 0:  # smaps_rollup walks the page tables: every 0.5 s, not to load the machine
                peak[1] = max(peak[1], sum(pss_kb(p) for p in pids))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate(timeout=3600)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    busy_after, total_after = machine_busy()
    sshd_cpu = servers.seconds() - sshd_before
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited with {proc.returncode}:\n{out.decode()[-3000:]}\n{err.decode()[-3000:]}")
    return {"wall_s": wall, "peak_rss_mb": peak[0] / 1024, "peak_pss_mb": peak[1] / 1024, "sshd_cpu_s": sshd_cpu,
            "machine_busy_cpu_s": busy_after - busy_before, "machine_cpus_s": total_after - total_before,
            "load_before": load_before, "load_after": loadavg(), "stdout": out.decode()}


def children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def phases(stats_file: Path) -> dict[str, Any]:
    rows = [json.loads(line) for line in stats_file.read_text().splitlines() if line.strip()]
    names = ("connect", "transfer", "judge", "write")
    total = {n: sum(r["phases"].get(n, 0.0) for r in rows) for n in names}
    whole = sum(total.values()) or 1.0
    cpu = {k: sum(r["cpu"].get(k, 0.0) for r in rows)
           for k in (*names, "worker", "transport", "transport_connect")}
    # The packet thread's CPU until login (key exchange, authentication) is connection set-up,
    # the rest carries the transfers.
    per_cpu = {n: cpu[n] for n in names}
    per_cpu["connect"] += cpu["transport_connect"]
    per_cpu["transfer"] += cpu["transport"] - cpu["transport_connect"]
    cpu_whole = sum(per_cpu.values()) or 1.0
    return {"hosts": len(rows),
            "share_of_host_wall_time": {n: round(total[n] / whole, 3) for n in names},
            "share_of_host_cpu_time": {n: round(per_cpu[n] / cpu_whole, 3) for n in names},
            "per_host_wall_s": {n: round(total[n] / max(len(rows), 1), 4) for n in names},
            "per_host_cpu_s": {k: round(v / max(len(rows), 1), 4) for k, v in cpu.items()}}


def one_run(label: str, argv_head: list[str], env: dict[str, str], inventory: Path, known_hosts: Path, work: Path,
            jobs: int | None, hosts: int, servers: ServerCpu, with_stats: bool) -> dict[str, Any]:
    out = work / f"reports-{label}"
    out.mkdir()
    argv = [*argv_head, "scan", "--inventory", str(inventory), "--known-hosts", str(known_hosts),
            "--output-dir", str(out)]
    if jobs is not None:
        argv += ["--jobs", str(jobs)]
    env = dict(env)
    stats = work / f"stats-{label}.jsonl"
    if with_stats:
        env["FEDHARDEN_INVENTORY_STATS"] = str(stats)
    cpu_before = children_cpu()
    got = run_scanner(argv, env, servers)
    scanner_cpu = children_cpu() - cpu_before
    reports = list(out.glob("*.json"))
    not_scanned = got["stdout"].count("NOT SCANNED")
    if len(reports) != hosts or not_scanned:
        raise SystemExit(f"{label}: {len(reports)} reports for {hosts} hosts, {not_scanned} not scanned:\n"
                         f"{got['stdout'][-3000:]}")
    others = got["machine_busy_cpu_s"] - scanner_cpu - got["sshd_cpu_s"]
    result = {
        "jobs": jobs, "hosts": hosts, "wall_s": round(got["wall_s"], 2),
        "hosts_per_s": round(hosts / got["wall_s"], 2),
        "peak_rss_mb": round(got["peak_rss_mb"], 1),  # the process tree's, summed
        "peak_pss_mb": round(got["peak_pss_mb"], 1),  # the same, pages shared after fork counted once
        "cpu_s_per_host": {"scanner": round(scanner_cpu / hosts, 4), "servers": round(got["sshd_cpu_s"] / hosts, 4),
                           "both": round((scanner_cpu + got["sshd_cpu_s"]) / hosts, 4)},
        # What two idle CPUs would give if both ends kept them busy: a quiet machine's ceiling.
        "hosts_per_s_if_2_cpus_were_ours": round(2 / ((scanner_cpu + got["sshd_cpu_s"]) / hosts), 2),
        "machine": {"load_before": got["load_before"], "load_after": got["load_after"],
                    "cpu_s_of_other_work": round(max(others, 0.0), 1),
                    "busy_share": round(got["machine_busy_cpu_s"] / max(got["machine_cpus_s"], 1e-9), 3)},
    }
    if with_stats:
        result["phases"] = phases(stats)
    print(f"{label}: {json.dumps(result)}", flush=True)
    shutil.rmtree(out, ignore_errors=True)
    return result


def baseline_tree(ref: str, work: Path) -> Path:
    """The repository at ``ref`` (git archive), to run the scanner as it was."""
    data = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref, "agent", "checks", "directives"],
                          check=True, capture_output=True, timeout=120).stdout
    where = work / "baseline"
    where.mkdir()
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(where, filter="data")
    return where


def write_inventory(path: Path, entries: list[tuple[str, int]], user: str, key: Path) -> None:
    lines = [f"  - {{host: {addr}, port: {port}, name: h{i:04d}}}" for i, (addr, port) in enumerate(entries)]
    path.write_text(f"defaults:\n  user: {user}\n  identity: {key}\n  sudo: true\nhosts:\n" + "\n".join(lines) + "\n")


def in_namespace(args: argparse.Namespace) -> None:
    import signal

    # Stopped (SIGTERM, or SIGINT even where a shell started us in the background): clean up
    # the servers, the account and the sudoers line all the same.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _: sys.exit(f"benchmarks/inventory.py: stopped by signal {number}"))
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=30)
    sshd = load_sshd_helper()

    class AnyLoopbackSshd(sshd.Sshd):  # type: ignore[misc,name-defined]
        """Listens on every address of the namespace: only its loopback interface exists."""

        def config(self) -> Path:
            path: Path = super().config()
            path.write_text(path.read_text().replace("ListenAddress 127.0.0.1", "ListenAddress 0.0.0.0"))
            return path

    work = Path(tempfile.mkdtemp(prefix="fedharden-inventory-bench-"))
    work.chmod(0o755)
    user = sshd.temporary_user(os.urandom(12).hex())  # the password unlocks the account; never used
    key = sshd.keygen(work / "id_ed25519")
    servers = [AnyLoopbackSshd(work / f"sshd{i}") for i in range(args.servers)]
    for server in servers:
        server.authorize(user, key)
    sudoers = sshd.sudoers_file(user)
    results: dict[str, Any] = {}
    cpu = ServerCpu(servers)
    try:
        for server in servers:
            server.start()
        cpu.join()
        results["server_cpu_accounting"] = cpu.accounting
        entries = [(f"127.1.{i // 250}.{1 + i % 250}", servers[i % len(servers)].port) for i in range(args.hosts)]
        known_hosts = work / "known_hosts"
        known_hosts.write_text("".join(f"[{addr}]:{port} {sshd.public(servers[i % len(servers)].host_key)}\n"
                                       for i, (addr, port) in enumerate(entries)))
        inventory = work / "inventory.yaml"
        write_inventory(inventory, entries, user, key)
        small = work / "inventory-small.yaml"
        write_inventory(small, entries[:args.hosts // 5], user, key)
        base_inventory = work / "inventory-baseline.yaml"
        write_inventory(base_inventory, entries[:args.baseline_hosts], user, key)
        env = {k: v for k, v in os.environ.items() if k != "FEDHARDEN_INVENTORY_STATS"}
        env["SSH_AUTH_SOCK"] = ""  # no agent: the identity only, as an unattended scan has
        old = baseline_tree(args.baseline_ref, work)
        old_argv = [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv.pop(1)); "
                                          "from agent.cli import main; sys.exit(main())", str(old)]
        from agent.remote import DEFAULT_JOBS

        # warm-up: page cache, sshd's first forks, sudo's first run
        one_run("warmup", [FEDHARDEN], env, small, known_hosts, work, 4, args.hosts // 5, cpu, False)
        results["baseline"] = one_run("baseline", old_argv, env, base_inventory, known_hosts, work, None,
                                      args.baseline_hosts, cpu, False)
        results["baseline"]["what"] = (f"the scanner at {args.baseline_ref} (before this work), its default --jobs "
                                       f"(8), the first {args.baseline_hosts} entries of the same inventory and "
                                       "known_hosts")
        results["runs"] = [one_run(f"jobs{jobs}", [FEDHARDEN], env, inventory, known_hosts, work,
                                   None if jobs == DEFAULT_JOBS else jobs, args.hosts, cpu, True)
                           for jobs in sorted({*args.jobs, DEFAULT_JOBS})]
        for run in results["runs"]:
            run["jobs"] = run["jobs"] or DEFAULT_JOBS
        results["default_jobs"] = next(r for r in results["runs"] if r["jobs"] == DEFAULT_JOBS)
        results["default_jobs_fifth_of_the_hosts"] = one_run("default-small", [FEDHARDEN], env, small, known_hosts,
                                                             work, None, args.hosts // 5, cpu, False)
    finally:
        for server in servers:
            server.stop()
        cpu.close()
        sudoers.unlink(missing_ok=True)
        sshd.remove_user(user)
        shutil.rmtree(work, ignore_errors=True)
    best = max(results["runs"], key=lambda r: r["hosts_per_s"])
    default = results["default_jobs"]
    base = results["baseline"]
    result = {
        "what": f"fedharden scan --inventory of {args.hosts} hosts (distinct 127.1.x.y addresses) over SSH to "
                f"{args.servers} real sshd on loopback serving this machine; scan account with --sudo, every "
                "shipped directive, JSON reports to --output-dir",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        **results,
        "best_jobs": best["jobs"],
        "ratio_hosts_per_s_default_vs_baseline": round(default["hosts_per_s"] / base["hosts_per_s"], 2),
        "ratio_cpu_per_host_default_vs_baseline": round(default["cpu_s_per_host"]["both"] / base["cpu_s_per_host"]["both"], 2),
        "ratio_peak_rss_default_vs_baseline": round(default["peak_rss_mb"] / base["peak_rss_mb"], 2),
        "target_hosts_per_s": round(TARGET_HOSTS_PER_S, 2),
        "meets_target": default["hosts_per_s"] >= TARGET_HOSTS_PER_S,
        "meets_target_on_2_idle_cpus": default["hosts_per_s_if_2_cpus_were_ours"] >= TARGET_HOSTS_PER_S,
        "note": "both ends of every connection run on this machine's CPUs (the scanner, and per host an sshd, sudo "
                "and sftp-server); other people's work shared them: see machine.load_* and cpu_s_of_other_work. "
                "hosts_per_s_if_2_cpus_were_ours = 2 / CPU-seconds per host (both ends).",
    }
    out = HERE / "results" / "inventory.json"
    out.parent.mkdir(exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out)
    print(json.dumps(result, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--jobs", type=lambda s: [int(j) for j in s.split(",")], default=[4, 8, 16],
                        help="--jobs values to measure (the default --jobs always is)")
    parser.add_argument("--baseline-ref", default=BASELINE_REF)
    parser.add_argument("--baseline-hosts", type=int, default=100)
    parser.add_argument("--in-namespace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("benchmarks/inventory.py needs root: a network namespace, sshd, an account with sudo")
    if args.in_namespace:
        in_namespace(args)
        return
    # A namespace of our own: its loopback is all there is, so every 127.0.0.0/8 address is
    # ours to listen on and nothing is exposed.
    argv = ["unshare", "--net", "--", sys.executable, __file__, "--in-namespace", *sys.argv[1:]]
    raise SystemExit(subprocess.run(argv, check=False).returncode)


if __name__ == "__main__":
    main()
