"""Bridge throughput and latency: UDP in, Kafka acknowledged, on one core.

Starts a dedicated bridge (its own ports, its own topic `bench.frames.v1`, its own spool) pinned
to one CPU, sends full-catalog frames from 400 sessions at stepped rates from a sender pinned to
the other CPU, and reports for each step: frames/s accepted and forwarded, kernel socket drops,
spool backlog, and UDP-receive to Kafka-ack latency percentiles. Then measures how fast a bare
Python `recvfrom` loop receives the same datagrams on the same core, for comparison.

    .platform/venvs/platform/bin/python bench/bench_bridge.py [--rates 10000,20000,30000,35000,40000] [--seconds 10]

Needs the native stack's Kafka (`./launchcommand.sh up`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from p424.codec.frame import FrameEncoder, FrameHeader
from p424.config import REPO_ROOT, load_config
from p424.kafka.admin import admin_client
from p424.sim import CarSimulator
from unity_bridge.metrics import socket_drops

BENCH_TOPIC = "bench.frames.v1"
SESSIONS = 400
TARGET_P99_MS = 50
BARE_OFFERED_FPS = 400_000  # more than one Python sender can send: the bare loop's own limit shows


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_frames(n: int) -> list[bytes]:
    """Real full-catalog frames from the simulator, spread over SESSIONS sessions with their own sequences."""
    block = CarSimulator(car_id=1, session_id=1, seed=5, rate_hz=50, laps=1).run()
    enc = FrameEncoder()
    seq = [0] * SESSIONS
    out = []
    for i in range(n):
        s = i % SESSIONS
        h = block.header(i % len(block))
        out.append(
            enc.encode(
                FrameHeader(s + 1, 10_000 + s, seq[s], h.sim_time, h.lap, h.lap_distance, h.markers),
                block.values[i % len(block)],
            )
        )
        seq[s] += 1
    return out


def send_at(port: int, frames: list[bytes], rate: float, seconds: float, cpu: int) -> None:
    os.sched_setaffinity(0, {cpu})
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    total = int(rate * seconds)
    t0 = time.perf_counter()
    batch = max(1, int(rate / 1000))  # send in 1 ms slices
    i = 0
    while i < total:
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        for _ in range(min(batch, total - i)):
            sock.sendto(frames[i % len(frames)], ("127.0.0.1", port))
            i += 1
    sock.close()


def health(http_port: int) -> dict[str, object]:
    return requests.get(f"http://127.0.0.1:{http_port}/health", timeout=5).json()  # type: ignore[no-any-return]


def bench_bridge(
    rates: list[int], seconds: float, frames: list[bytes], bridge_cpu: int, sender_cpu: int
) -> list[dict[str, float]]:
    cfg = load_config()
    admin = admin_client(cfg)
    with contextlib.suppress(TopicAlreadyExistsError):
        admin.create_topics([NewTopic(BENCH_TOPIC, cfg.kafka_partitions, 1)])
    admin.close()
    udp, http = free_port(), free_port(socket.SOCK_STREAM)
    spool = cfg.state_dir / "bench" / f"bridge-spool-{udp}"
    env = {
        **os.environ,
        "KAFKA_TOPIC_FRAMES": BENCH_TOPIC,
        "BRIDGE_UDP_PORT": str(udp),
        "BRIDGE_HTTP_PORT": str(http),
        "BRIDGE_DMG1_PORT": "0",  # the platform's bridge holds the DMG1 port
        "PLATFORM_STATE_DIR": str(cfg.state_dir),
        "BRIDGE_SPOOL_DIR": str(spool),
    }
    log = (cfg.state_dir / "logs" / "bench-bridge.log").open("w")
    proc = subprocess.Popen(
        ["taskset", "-c", str(bridge_cpu), sys.executable, "-m", "unity_bridge", "serve", "--log-level", "WARNING"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO_ROOT,
    )
    results = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if health(http)["kafka_connected"]:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the bench bridge did not connect to Kafka; is the stack up?")
            time.sleep(0.3)
        for rate in rates:
            before = health(http)
            drops0 = socket_drops(udp) or 0
            cpu0 = _cpu_seconds(proc.pid)
            t0 = time.monotonic()
            sender = mp.Process(target=send_at, args=(udp, frames, rate, seconds, sender_cpu))
            sender.start()
            sender.join()
            sent_s = time.monotonic() - t0
            # Let the forwarder catch up, then read the counters.
            settle = time.monotonic() + 30
            while time.monotonic() < settle and health(http)["spool_backlog_bytes"]:
                time.sleep(0.2)
            after = health(http)
            elapsed = time.monotonic() - t0
            lat: dict[str, float] = after["ack_latency_ms"]  # type: ignore[assignment]  # this step's samples
            accepted = int(after["accepted"]) - int(before["accepted"])  # type: ignore[call-overload]
            results.append(
                {
                    "target_fps": rate,
                    "sent": int(rate * seconds),
                    "accepted": accepted,
                    "accepted_fps": accepted / sent_s,
                    "socket_drops": (socket_drops(udp) or 0) - drops0,
                    "drain_s": elapsed - sent_s,
                    "p50_ms": lat.get("p50", float("nan")),
                    "p99_ms": lat.get("p99", float("nan")),
                    "bridge_cpu_pct": 100 * (_cpu_seconds(proc.pid) - cpu0) / elapsed,
                    "cpu_us_per_frame": 1e6 * (_cpu_seconds(proc.pid) - cpu0) / max(accepted, 1),
                }
            )
            print(_row(results[-1]), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(spool, ignore_errors=True)  # everything was forwarded (or the run failed): nothing to keep
        log.close()
    return results


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _row(r: dict[str, float]) -> str:
    return (
        f"  target {r['target_fps']:>7,.0f}/s  accepted {r['accepted_fps']:>8,.0f}/s  drops {r['socket_drops']:>6.0f}  "
        f"ack p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  bridge CPU {r['bridge_cpu_pct']:5.1f} % "
        f"({r['cpu_us_per_frame']:.0f} us/frame)  drain {r['drain_s']:.1f} s"
    )


def _bare_receiver(port: int, cpu: int, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    os.sched_setaffinity(0, {cpu})
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, 33, 32 * 2**20)
    sock.bind(("127.0.0.1", port))
    sock.settimeout(1.0)
    n = 0
    first = last = 0.0
    end = time.monotonic() + 4 * seconds + 5  # the sender may fall behind its offered rate
    while time.monotonic() < end:
        try:
            sock.recvfrom(2048)
        except TimeoutError:
            if n:
                break
            continue
        last = time.perf_counter()
        if not n:
            first = last
        n += 1
    out.put((n, last - first))


def bench_bare_receive(
    frames: list[bytes], rate: float, seconds: float, recv_cpu: int, sender_cpu: int
) -> dict[str, float]:
    port = free_port()
    q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    rx = mp.Process(target=_bare_receiver, args=(port, recv_cpu, seconds, q))
    rx.start()
    time.sleep(0.5)
    drops0 = socket_drops(port) or 0
    tx = mp.Process(target=send_at, args=(port, frames, rate, seconds, sender_cpu))
    tx.start()
    tx.join()
    n, span = q.get(timeout=seconds + 30)
    rx.join()
    return {
        "target_fps": rate,
        "received": n,
        "received_fps": n / span if span else 0.0,
        "socket_drops": (socket_drops(port) or 0) - drops0,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", default="10000,20000,30000,35000,40000")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    a = p.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    bridge_cpu, sender_cpu = cpus[-1], cpus[0]
    frames = make_frames(20_000)
    print(
        f"frame size {len(frames[0])} bytes (full catalog), {SESSIONS} sessions, bridge on CPU {bridge_cpu}, "
        f"sender on CPU {sender_cpu}"
    )
    print("bridge -> Kafka (acks=all, lz4):")
    rates = [int(r) for r in a.rates.split(",")]
    bridge = bench_bridge(rates, a.seconds, frames, bridge_cpu, sender_cpu)
    print("\nbare Python recvfrom loop on the same core (no validation, no Kafka):")
    bare = bench_bare_receive(frames, BARE_OFFERED_FPS, a.seconds, bridge_cpu, sender_cpu)
    limit = "the receiver's limit" if bare["socket_drops"] else "the sender's limit: the receiver kept up"
    print(
        f"  offered {bare['target_fps']:,.0f}/s  received {bare['received_fps']:,.0f}/s  drops "
        f"{bare['socket_drops']:,.0f} ({limit})"
    )
    clean = [r for r in bridge if r["socket_drops"] == 0 and r["accepted"] >= r["sent"] and r["drain_s"] < 5]
    for label, rows in (
        ("highest sustained rate with no drop", clean),
        (f"... and ack p99 under {TARGET_P99_MS} ms", [r for r in clean if r["p99_ms"] < TARGET_P99_MS]),
    ):
        if rows:
            best = max(rows, key=lambda r: r["accepted_fps"])
            print(
                f"{label}: {best['accepted_fps']:,.0f} frames/s (p50 {best['p50_ms']:.1f} ms, p99 "
                f"{best['p99_ms']:.1f} ms), {100 * best['accepted_fps'] / bare['received_fps']:.0f} % of the bare "
                "receive rate"
            )
    per_frame = min(r["cpu_us_per_frame"] for r in bridge)
    print(f"bridge CPU per frame (all threads): {per_frame:.0f} us, i.e. {1e6 / per_frame:,.0f} frames/s for one core")
    if a.json:
        a.json.write_text(json.dumps({"bridge": bridge, "bare_receive": bare}, indent=2))


if __name__ == "__main__":
    main()
