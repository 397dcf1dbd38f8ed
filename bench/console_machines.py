"""The console's Machines page on 10,000 machines, end to end over HTTP.

    uv run --no-sync python bench/console_machines.py [--requests 200]

Starts the whole platform with ``autorke up`` (SQLite, embedded NATS, the lab with its
10,000-record CMDB) on free ports, waits until inventory holds all 10,000 machines, signs
in through the lab identity provider as a browser does (authorization code flow, session
cookie), then asks for filtered, sorted Machines pages of 50 — state, GPU model, rack,
free text, cluster+state — and times the whole answer: the console's page handler, its
calls to inventory (machines + clusters) and the HTML. For comparison it times the same
queries as JSON through the gateway (``/api/v1/machines``) and straight from inventory.
Sequential requests from one client; p50/p95. Writes its section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin

import httpx
from _results import write_section  # bench/ is on sys.path when a script runs

from autorke_common.platform_env import DEFAULT_PORTS
from autorke_lab.machines.addresses import lease_free_range

BEGIN, END = "<!-- console_machines:begin -->", "<!-- console_machines:end -->"
OFFSET = 21_300
LOAD = [0.0, 0.0]


def start_platform(data: Path) -> tuple[subprocess.Popen, dict[str, int]]:
    lease = lease_free_range()
    port = {k: v + OFFSET for k, v in DEFAULT_PORTS.items()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTORKE_")}
    env["AUTORKE_OIDC_CLIENT_SECRET"] = "lab-console-secret"
    env["AUTORKE_TRACE_EXPORTER"] = "none"
    env["AUTORKE_LOG_LEVEL"] = "WARNING"
    log = open(data / "up.log", "wb")  # noqa: SIM115 - the child writes it until it stops
    proc = subprocess.Popen([str(Path(sys.executable).parent / "autorke"), "up", "--data-dir", str(data / ".autorke"),
                             "--port-offset", str(OFFSET), "--machines", "3", "--lab-address-base", lease.base],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=data, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((data / "up.log").read_text()[-2000:])
        try:
            if all(httpx.get(f"http://127.0.0.1:{port[s]}/readyz", timeout=1).status_code == 200
                   for s in ("console", "inventory")):
                return proc, port
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("platform not ready")


def token(data: Path, user: str) -> str:
    out = subprocess.run([str(Path(sys.executable).parent / "autorke"), "lab", "token", user, "--state-dir",
                          str(data / ".autorke" / "lab")], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def browser_session(console: str, user: str) -> httpx.Client:
    client = httpx.Client(base_url=console, timeout=30)
    authorize = client.get("/auth/login", follow_redirects=False).headers["location"]
    page = httpx.get(authorize, timeout=10).text
    action = re.search(r'action="([^"]+)"', page).group(1).replace("&amp;", "&")
    callback = httpx.post(urljoin(authorize, action), data={"username": user}, timeout=10).headers["location"]
    client.get(callback, follow_redirects=False)
    return client


def wait_machines(api: httpx.Client, want: int) -> int:
    deadline = time.monotonic() + 300
    total = 0
    while time.monotonic() < deadline:
        total = api.get("/api/v1/machines", params={"limit": 1}).json().get("total", 0)
        if total >= want:
            return total
        time.sleep(2)
    raise RuntimeError(f"inventory has {total} machines, wanted {want}")


def queries(api: httpx.Client, n: int) -> list[dict]:
    sample = api.get("/api/v1/machines", params={"limit": 200, "sort": "ip"}).json()["items"]
    rng = random.Random(7)
    racks = sorted({m["network"]["rack"] for m in sample if m["network"].get("rack")})
    gpus = sorted({m["hardware"]["gpu"]["model"] for m in sample if m["hardware"]["gpu"].get("model")})
    out = []
    for i in range(n):
        kind = i % 5
        out.append([{"state": "available", "sort": "hostname"},
                    {"gpu_model": rng.choice(gpus), "sort": "-hostname"},
                    {"rack": rng.choice(racks), "sort": "ip"},
                    {"q": f"m{rng.randrange(1, 999):03d}"},
                    {"state": "available", "gpu_model": rng.choice(gpus), "rack": rng.choice(racks)}][kind]
                   | {"limit": 50})
    return out


def timed(client: httpx.Client, path: str, params: list[dict]) -> list[float]:
    out = []
    for p in params:
        t = time.perf_counter()
        r = client.get(path, params=p)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, p, r.status_code, r.text[:300])
        if path == "/ui/machines":
            assert 'data-test="machines"' in r.text and 'data-test="unavailable"' not in r.text
    return sorted(out)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))]


def write(rows: list[tuple[str, list[float]]], total: int, n: int) -> None:
    lines = [BEGIN, ("## Console: the Machines page on 10,000 machines "
                     "(`uv run --no-sync python bench/console_machines.py`)"), "",
             (f"`autorke up` (SQLite, embedded NATS, lab CMDB), inventory holding {total:,} machines; "
              f"{n} filtered, sorted pages of 50 (state / GPU model / rack / free text / three filters "
              "at once), sequential, one client, signed in with a session cookie. Page = the whole "
              "HTML answer (console → inventory for machines and clusters → Jinja2). "
              f"{os.cpu_count()} cores; 1-minute load average {LOAD[0]:.0f} at the start, "
              f"{LOAD[1]:.0f} at the end (the platform's own processes included)."), "",
             "| request | p50 (ms) | p95 (ms) | max (ms) |", "|---|---|---|---|"]
    for name, values in rows:
        lines.append(f"| {name} | {statistics.median(values):.1f} | {pct(values, 0.95):.1f} | {max(values):.1f} |")
    page_p95 = pct(rows[0][1], 0.95)
    verdict = "met" if page_p95 < 300 else "NOT met"
    lines += ["", f"Target: p95 of the filtered page under 300 ms: **{verdict}** ({page_p95:.0f} ms).", "",
              f"Measured {time.strftime('%Y-%m-%d')}.", END]
    section = "\n".join(lines)
    write_section(BEGIN, END, section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        data = Path(tmp)
        proc, port = start_platform(data)
        try:
            console = f"http://127.0.0.1:{port['console']}"
            bearer = {"Authorization": f"Bearer {token(data, 'viewer')}"}
            browser = browser_session(console, "viewer")
            with httpx.Client(base_url=console, headers=bearer, timeout=30) as api, \
                    httpx.Client(base_url=f"http://127.0.0.1:{port['inventory']}", headers=bearer,
                                 timeout=30) as inventory:
                total = wait_machines(api, 10_000)
                params = queries(api, args.requests)
                timed(browser, "/ui/machines", params[:10])  # warm-up: connections, caches
                LOAD[0] = os.getloadavg()[0]
                rows = [("Machines page (HTML, through the console)", timed(browser, "/ui/machines", params)),
                        ("`/api/v1/machines` through the gateway (JSON)", timed(api, "/api/v1/machines", params)),
                        ("inventory directly (JSON)", timed(inventory, "/api/v1/machines", params))]
            browser.close()
            LOAD[1] = os.getloadavg()[0]
            LOAD.sort()
            for name, values in rows:
                print(f"{name}: p50 {statistics.median(values):.1f} ms, p95 {pct(values, 0.95):.1f} ms")
            write(rows, total, args.requests)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
