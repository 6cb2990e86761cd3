"""Load-test `ride-duration serve` against the course's web service, side by side, on 127.0.0.1.

Both serve the lesson model (green 2021-01) with the same number of worker processes: ours on
uvicorn, as it runs by default (every ride recorded in the prediction log, /metrics counted)
and with both off (--no-log --no-metrics), and the course's Flask app on gunicorn. The same
clients send, to each in turn: 5,000 single-ride requests from 8 concurrent keep-alive
clients, then 1,000 batches of 1,000 rides from 4 clients (real rides of green 2021-02).
Reported: throughput and p50/p99 latency, the median of the rounds. Every loop is bounded in
count and time; every server is stopped at the end. Run: `make bench-serve` (installs flask
and gunicorn).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import add_tlc_dir

HERE = Path(__file__).resolve().parent
SINGLE, SINGLE_CLIENTS = 5_000, 8
BATCHES, BATCH_SIZE, BATCH_CLIENTS = 1_000, 1_000, 4
PHASE_TIMEOUT = 300.0
TARGET_SINGLE_SPEEDUP, TARGET_BATCH_RIDES = 5.0, 1_000_000
# What recording every ride and counting every request may cost: at most 10% of single-ride
# requests per second and 15% of batch rides per second, against the service with both off.
TARGET_LIVE_SINGLE, TARGET_LIVE_BATCH = 0.90, 0.85


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(port: int, process: subprocess.Popen, body: bytes) -> None:
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise SystemExit(f"the server on port {port} exited with {process.returncode}")
        try:
            post(http.client.HTTPConnection("127.0.0.1", port, timeout=5), body)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server on port {port} did not start")


def post(connection: http.client.HTTPConnection, body: bytes, path: str = "/predict") -> bytes:
    connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{response.status}: {data[:200]!r}")
    return data


def request_bytes(body: bytes, path: str = "/predict") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class Connection:
    """One keep-alive HTTP/1.1 connection sending prebuilt requests and reading each answer
    by its Content-Length. http.client parses every response's headers with the email
    package, some 100 us of the client's CPU a request: with the clients and a server on 2
    cores, that capped every server near 5,500 requests/s and hid the difference between
    them. Both servers are measured with this client (``--client http.client`` for the old)."""

    def __init__(self, port: int):
        self.port, self.sock, self.pending = port, None, b""

    def exchange(self, request: bytes) -> bytes:
        try:
            return self._exchange(request)
        except (ConnectionError, OSError):  # the server closed it between requests: again
            self.close()
            return self._exchange(request)

    def _exchange(self, request: bytes) -> bytes:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.pending = b""
        self.sock.sendall(request)
        data = self.pending
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += self._receive(65536)
        head = data[:end].lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            raise RuntimeError(f"an answer without a Content-Length: {head[:200]!r}")
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop > 0 else None])
        body = data[end + 4 :]
        while len(body) < length:
            body += self._receive(max(65536, length - len(body)))
        self.pending, body = body[length:], body[:length]
        if b"\r\nconnection: close" in head:  # gunicorn's sync workers close every one
            self.close()
        if head[9:12] != b"200":
            raise RuntimeError(f"{head[9:12].decode()}: {body[:200]!r}")
        return body

    def _receive(self, size: int) -> bytes:
        chunk = self.sock.recv(size)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class HttpClientConnection:
    """The same interface on http.client (``--client http.client``), which opens a new
    connection when the server closed the last one."""

    def __init__(self, port: int, path: str):
        self.port, self.path = port, path
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def exchange(self, body: bytes) -> bytes:
        try:
            return post(self.connection, body, self.path)
        except (http.client.HTTPException, OSError):  # the server closed it: reconnect
            self.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            return post(self.connection, body, self.path)

    def close(self) -> None:
        self.connection.close()


CLIENTS = ("raw", "http.client")


def load(
    port: int, bodies: list[bytes], clients: int, path: str = "/predict", client: str = "raw"
) -> tuple[float, list[float]]:
    """Send every body once, from ``clients`` threads with one keep-alive connection each
    (reconnecting when the server closes it) of the ``client`` kind; return (wall seconds,
    latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + PHASE_TIMEOUT
    raw = client == "raw"
    requests = [request_bytes(body, path) for body in bodies] if raw else bodies

    def send_share(share: list[bytes]) -> None:
        connection = Connection(port) if raw else HttpClientConnection(port, path)
        mine = []
        for request in share:
            if time.monotonic() > deadline:
                raise TimeoutError("the phase took longer than its bound")
            start = time.perf_counter()
            connection.exchange(request)
            mine.append(time.perf_counter() - start)
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [
        threading.Thread(target=send_share, args=(requests[i::clients],)) for i in range(clients)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PHASE_TIMEOUT)
    wall = time.perf_counter() - start
    if len(latencies) != len(bodies):
        raise SystemExit(f"only {len(latencies)} of {len(bodies)} requests were answered")
    return wall, latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def rides(tlc_dir: Path) -> list[dict]:
    import pandas as pd

    frame = pd.read_parquet(
        tlc_dir / "green_tripdata_2021-02.parquet",
        columns=["PULocationID", "DOLocationID", "trip_distance"],
    ).dropna()
    return [
        {"PULocationID": int(p), "DOLocationID": int(d), "trip_distance": float(t)}
        for p, d, t in frame.itertuples(index=False)
    ]


def measure(
    port: int, singles: list[bytes], batches: list[bytes], explain: bool, client: str
) -> dict:
    wall, latencies = load(port, singles, SINGLE_CLIENTS, client=client)
    batch_wall, batch_latencies = load(port, batches, BATCH_CLIENTS, client=client)
    explained = {}
    if explain:  # each ride's parts too (?explain=true), on a tenth of the batches
        some = batches[: max(1, len(batches) // 10)]
        explain_wall, _ = load(port, some, BATCH_CLIENTS, "/predict?explain=true", client)
        explained = {"explain_rides_per_s": len(some) * BATCH_SIZE / explain_wall}
    return explained | {
        "single_rps": len(singles) / wall,
        "single_p50_ms": percentile(latencies, 50) * 1e3,
        "single_p99_ms": percentile(latencies, 99) * 1e3,
        "batch_rides_per_s": len(batches) * BATCH_SIZE / batch_wall,
        "batch_p50_ms": percentile(batch_latencies, 50) * 1e3,
        "batch_p99_ms": percentile(batch_latencies, 99) * 1e3,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_tlc_dir(parser)
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument(
        "--rounds", type=int, default=7, help="alternating rounds per server (3 swing 20%%)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        default="raw",
        help="the load's HTTP client: raw keep-alive sockets (default) or http.client, the "
        "old one, which took most of a core by itself",
    )
    args = parser.parse_args()
    tlc = args.tlc_dir.resolve()
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    months = [str(tlc / f"green_tripdata_2021-0{m}.parquet") for m in (1, 2)]
    subprocess.run(
        [
            sys.executable,
            str(HERE / "course_approach.py"),
            *months,
            "lesson",
            str(work / "course.bin"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ride_duration",
            "train",
            "--offline",
            "--quiet",
            "--data-dir",
            str(tlc),
            "--model-dir",
            str(work),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    sample = rides(tlc)
    singles = [json.dumps(sample[i % len(sample)]).encode() for i in range(SINGLE)]
    batches = [
        json.dumps([sample[(b * BATCH_SIZE + i) % len(sample)] for i in range(BATCH_SIZE)]).encode()
        for b in range(BATCHES)
    ]
    ports = {"ours": free_port(), "bare": free_port(), "course": free_port()}

    def ours(name: str, *flags: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "ride_duration",
            "serve",
            "--model",
            str(work / "lin_reg.bin"),
            "--port",
            str(ports[name]),
            "--workers",
            str(args.workers),
            "--no-access-log",
            "--log-dir",
            str(work / "logs"),
            *flags,
        ]

    commands = {
        "ours": ours("ours"),
        "bare": ours("bare", "--no-log", "--no-metrics"),
        "course": [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{ports['course']}",
            "--log-level",
            "warning",
            "course_flask:app",
        ],
    }
    env = {**os.environ, "COURSE_MODEL": str(work / "course.bin")}
    servers = {
        name: subprocess.Popen(
            command, cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for name, command in commands.items()
    }
    results: dict[str, list[dict]] = {name: [] for name in commands}
    try:
        for name, server in servers.items():
            wait_until_up(ports[name], server, singles[0])
            load(ports[name], singles[:200], SINGLE_CLIENTS, client=args.client)  # warm up
        for round_ in range(args.rounds):
            order = list(commands) if round_ % 2 == 0 else list(commands)[::-1]
            for name in order:
                results[name].append(
                    measure(ports[name], singles, batches, name == "ours", args.client)
                )
                print(
                    f"  round {round_ + 1} {name:<6} {json.dumps(results[name][-1])}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        for server in servers.values():
            server.send_signal(signal.SIGTERM)
        for server in servers.values():
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    summary = {
        name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for name, runs in results.items()
    }
    print(report(summary, args.workers, args.client))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


def report(summary: dict, workers: int, client: str = "raw") -> str:
    labels = {
        "ours": "ride-duration serve (FastAPI, uvicorn), log and metrics on",
        "bare": "ride-duration serve --no-log --no-metrics",
        "course": "course shape (Flask, gunicorn, dv.transform + predict)",
    }
    lines = [
        f"{workers} worker process(es) each; {SINGLE:,} single rides from {SINGLE_CLIENTS} "
        f"clients; {BATCHES} batches of {BATCH_SIZE:,} from {BATCH_CLIENTS} clients; "
        f"client: {client}",
        "",
        "| server | single req/s | p50 ms | p99 ms | batch rides/s | batch p50 ms | batch p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in summary.items():
        lines.append(
            f"| {labels[name]} | {r['single_rps']:,.0f} | {r['single_p50_ms']:.2f} | "
            f"{r['single_p99_ms']:.2f} | {r['batch_rides_per_s']:,.0f} | {r['batch_p50_ms']:.1f} | "
            f"{r['batch_p99_ms']:.1f} |"
        )
    ours, course = summary["ours"], summary["course"]
    speedup = ours["single_rps"] / course["single_rps"]
    lines += [
        "",
        f"single-ride throughput {speedup:.1f}x the course's "
        f"(target >= {TARGET_SINGLE_SPEEDUP:g}x): "
        f"{'met' if speedup >= TARGET_SINGLE_SPEEDUP else 'NOT met'}; p99 "
        f"{ours['single_p99_ms']:.2f} vs {course['single_p99_ms']:.2f} ms: "
        f"{'lower' if ours['single_p99_ms'] < course['single_p99_ms'] else 'NOT lower'}",
        f"batch predictions {ours['batch_rides_per_s']:,.0f} rides/s (target >= "
        f"{TARGET_BATCH_RIDES:,}): "
        f"{'met' if ours['batch_rides_per_s'] >= TARGET_BATCH_RIDES else 'NOT met'}",
    ]
    explained = ours["explain_rides_per_s"] / ours["batch_rides_per_s"]
    lines.append(
        f"batches with ?explain=true: {ours['explain_rides_per_s']:,.0f} rides/s, "
        f"{1 / explained:.1f}x slower than plain (target: at most 2x): "
        f"{'met' if explained >= 0.5 else 'NOT met'}"
    )
    bare = summary["bare"]
    single, batch = (ours[k] / bare[k] for k in ("single_rps", "batch_rides_per_s"))
    lines += [
        f"prediction log and metrics on: single rides {single:.0%} of off (target >= "
        f"{TARGET_LIVE_SINGLE:.0%}): {'met' if single >= TARGET_LIVE_SINGLE else 'NOT met'}; "
        f"batch rides {batch:.0%} of off (target >= {TARGET_LIVE_BATCH:.0%}): "
        f"{'met' if batch >= TARGET_LIVE_BATCH else 'NOT met'}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
