"""Stream processing throughput and latency on the running native stack.

1. Throughput: writes a backlog of full-catalog frames from N simulated cars straight into
   `telemetry.frames.v1` (bypassing the bridge, so only Flink and Cassandra are measured), then
   times how fast the Flink job processes it into Cassandra (frames counted in session_quality).
2. Latency: streams N cars at 50 Hz in real time through the bridge and measures, for probe
   cars, the time from a frame being sent to the bridge until the 100 ms window containing it is
   readable in Cassandra (p50/p95/p99).

Either topology: in a cluster the producer and the job write to three replicas (acks=all,
LOCAL_QUORUM); the first line says which topology ran and how busy the machine was.

    .platform/venvs/platform/bin/python bench/bench_pipeline.py \
        [--cars 100] [--backlog-seconds 40] [--latency-seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from cassandra import DriverException
from kafka import KafkaProducer
from kafka.partitioner.default import murmur2

from launcher.credentials import config_as
from p424.codec.frame import FrameEncoder, FrameHeader, session_key
from p424.config import Config, load_config
from p424.kafka import auth as kafka_auth
from p424.sim import CarSimulator, driver_pace
from p424.storage.reader import TelemetryStore
from unity_bridge.intake import new_session_id
from unity_bridge.sender import FrameSender


def encoder(fleet: list[tuple[int, int, np.ndarray, list[FrameHeader]]]) -> FrameEncoder:
    """Frames of the channels the simulator gives: it has none yet for catalog 1.1.0's newer channels (NaN),
    which a frame may not carry as present."""
    return FrameEncoder(np.isfinite(fleet[0][2][0]))


def cars(n: int, seconds: float, seed: int) -> list[tuple[int, int, np.ndarray, list[FrameHeader]]]:
    """(car, session, values, headers) of the first ``seconds`` of a flying lap per car, at 50 Hz."""
    out = []
    for car in range(1, n + 1):
        sim = CarSimulator(car, new_session_id(), seed, driver_pace(seed, car), rate_hz=50, laps=1)
        block = next(sim.blocks(max_samples=int(seconds * 50)))
        out.append((car, sim.session_id, block.values, [block.header(i) for i in range(len(block))]))
    return out


# Which platform part a process belongs to, by its command line (first match wins).
PARTS = (
    ("flink python worker", "pyflink.fn_execution"),
    ("flink jvm", "org.apache.flink"),
    ("cassandra", "CassandraDaemon"),
    ("kafka", "kafka.Kafka"),
    ("predictor", "p424.ml.live"),
    ("bridge", "unity_bridge"),
    ("airflow", "airflow"),
    ("mlflow", "mlflow"),
    ("minio", "minio"),
)


def ours(pid: str, cmdline: str, state_dir: str) -> bool:
    """Whether a process belongs to this platform: its command line, its environment or one of its
    parents' command lines names the state directory (Airflow renames its processes). Another stack
    on the machine, e.g. a second checkout's, is not counted."""
    for _ in range(6):
        if state_dir in cmdline:
            return True
        try:
            if state_dir.encode() in Path(f"/proc/{pid}/environ").read_bytes():
                return True
            pid = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]  # the parent
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
    return False


def cpu_by_part() -> dict[str, float]:
    """CPU seconds used so far by each of this platform's parts (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    state_dir = str(load_config().state_dir.resolve())
    used: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        part = next((name for name, marker in PARTS if marker in cmdline), None)
        if part is not None and not ours(pid, cmdline, state_dir):
            continue
        if part is None and "bench_pipeline" in cmdline:
            part = "this benchmark"
        if part is not None:
            used[part] = used.get(part, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return used


def platform_cfg() -> Config:
    """The settings, logged in as the admin when auth is on (it may write frames and read every table)."""
    return config_as("admin")


def throughput(n_cars: int, seconds: float) -> dict[str, Any]:
    cfg = platform_cfg()
    fleet = cars(n_cars, seconds, seed=7)
    enc = encoder(fleet)
    producer = KafkaProducer(
        bootstrap_servers=cfg.kafka_bootstrap,
        acks="all",
        linger_ms=20,
        batch_size=512 * 1024,
        compression_type="lz4",
        metrics_enabled=False,
        **kafka_auth.kafka_python(cfg),
    )
    parts = len(producer.partitions_for(cfg.kafka_topic_frames))
    total = 0
    now_ms = int(time.time() * 1000)
    for i in range(len(fleet[0][3])):
        for _car, _sid, values, headers in fleet:
            raw = enc.encode(headers[i], values[i])
            key = session_key(raw)
            producer.send(
                cfg.kafka_topic_frames,
                raw,
                key=key,
                partition=(murmur2(key) & 0x7FFFFFFF) % parts,
                timestamp_ms=now_ms + i * 20,
            )
            total += 1
    t_produced = time.monotonic()
    producer.flush()
    producer.close()
    sessions = [sid for _c, sid, _v, _h in fleet]
    store = TelemetryStore(cfg)
    print(
        f"  backlog of {total:,} frames ({n_cars} cars x {seconds:.0f} s at 50 Hz) written to Kafka; "
        "Flink draining ...",
        flush=True,
    )
    cpu_before = cpu_by_part()
    done = 0
    first_seen = None
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        try:
            done = sum((store.quality(s) or {}).get("frames_received", 0) for s in sessions)
        except DriverException as err:  # a read timing out on a saturated machine: count again next time
            print(f"  (progress read failed: {type(err).__name__}; retrying)", flush=True)
            time.sleep(1.0)
            continue
        now = time.monotonic()
        if done and first_seen is None:
            first_seen = now
        samples.append((now, done))
        if done >= total:
            break
        time.sleep(1.0)
    store.close()
    cpu_after = cpu_by_part()
    t_end = samples[-1][0]
    # Rate over the steady part: from 10 % to 90 % of the backlog.
    lo = next(t for t, d in samples if d >= 0.1 * total)
    hi = next((t for t, d in samples if d >= 0.9 * total), t_end)
    steady = 0.8 * total / (hi - lo) if hi > lo else float("nan")
    spent = {part: used - cpu_before.get(part, 0.0) for part, used in cpu_after.items()}
    cpu_us_per_frame = {
        part: round(1e6 * seconds / max(done, 1), 1) for part, seconds in sorted(spent.items(), key=lambda kv: -kv[1])
    }
    return {
        "frames": total,
        "cars": n_cars,
        "processed": done,
        "cpu_us_per_frame": cpu_us_per_frame,
        "seconds_total": t_end - t_produced,
        "frames_per_s_overall": done / (t_end - t_produced),
        "frames_per_s_steady": steady,
    }


def latency(n_cars: int, seconds: float, probes: int = 5) -> dict[str, float]:
    cfg = platform_cfg()
    fleet = cars(n_cars, seconds, seed=9)
    enc = encoder(fleet)
    probe_sessions = {sid for _c, sid, _v, _h in fleet[:probes]}
    sent_at: dict[tuple[int, int], float] = {}  # (session, window index) -> send time of its latest frame
    seen: dict[tuple[int, int], float] = {}
    stop = threading.Event()
    polling = threading.Event()

    def poll() -> None:
        store = TelemetryStore(cfg)
        stmt = store.session.prepare(
            f"SELECT window_start FROM {cfg.cassandra_keyspace}.channel_windows "
            "WHERE session_id = ? AND window_ms = 100 AND lap = ? AND part = 0 ORDER BY ts DESC LIMIT 10"
        )
        polling.set()
        while not stop.is_set():
            for sid in probe_sessions:
                try:
                    rows = list(store.session.execute(stmt, (sid, 1)))
                except DriverException:  # timed out on a saturated machine: those windows show next time
                    continue
                for row in rows:
                    key = (sid, round(row["window_start"] * 10))
                    seen.setdefault(key, time.perf_counter())
            time.sleep(0.02)
        store.close()

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    # Connecting takes seconds: sending before the poller runs would charge that to the first windows.
    if not polling.wait(60):
        raise RuntimeError("could not connect to Cassandra to poll for windows")
    n = len(fleet[0][3])
    t0 = time.perf_counter()
    with FrameSender(cfg.host_of("bridge"), cfg.bridge_udp_port) as tx:
        for i in range(n):
            due = t0 + i * 0.02
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            for _car, sid, values, headers in fleet:
                tx.send(enc.encode(headers[i], values[i]))
                if sid in probe_sessions:
                    sent_at[(sid, int(headers[i].sim_time * 10))] = time.perf_counter()
    time.sleep(5)
    stop.set()
    poller.join()
    # A window closes when a frame past it (by the out-of-orderness) arrives. The last windows of
    # the stream have none and close only when the session goes idle; they are reported apart.
    last_window = int(fleet[0][3][-1].sim_time * 10)
    closing = int(np.ceil(cfg.out_of_orderness_ms / 100)) + 1
    steady = [k for k in sent_at if k[1] <= last_window - closing]
    lat = np.array([(seen[k] - sent_at[k]) * 1000 for k in steady if k in seen])
    tail = [(seen[k] - sent_at[k]) * 1000 for k in sent_at if k[1] > last_window - closing and k in seen]
    if lat.size == 0:
        return {"windows": 0}
    return {
        "cars": n_cars,
        "frames_per_s": n_cars * 50,
        "windows": int(lat.size),
        "missing_windows": len(steady) - int(lat.size),
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "stream_end_max_ms": max(tail, default=float("nan")),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cars", type=int, default=100)
    p.add_argument("--backlog-seconds", type=float, default=40.0)
    p.add_argument("--latency-seconds", type=float, default=60.0)
    p.add_argument(
        "--latency-cars", default="", help="comma-separated fleet sizes for the latency runs (default: --cars)"
    )
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()
    cfg = platform_cfg()
    kafka_security = kafka_auth.security_protocol(cfg) if cfg.auth_enabled else "PLAINTEXT"
    topology = {
        "topology": cfg.platform_topology,
        "kafka_security": kafka_security,
        "replication_factor": cfg.replication_factor,
        "kafka": cfg.kafka_bootstrap,
        "cassandra": cfg.cassandra_contact,
        "load_average": os.getloadavg(),
    }
    print(
        f"topology {cfg.platform_topology}: replication factor {cfg.replication_factor}, Kafka {cfg.kafka_bootstrap} "
        f"({kafka_security}), "
        f"Cassandra {cfg.cassandra_contact}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    tp: dict[str, Any] = {}
    if a.backlog_seconds > 0:
        print("throughput (Kafka backlog -> Flink -> Cassandra):")
        tp = throughput(a.cars, a.backlog_seconds)
        print(
            f"  {tp['processed']:,} frames in {tp['seconds_total']:.1f} s: {tp['frames_per_s_overall']:,.0f} "
            "frames/s overall, "
            f"{tp['frames_per_s_steady']:,.0f} frames/s steady (target >= 5,000)"
        )
        cpu: dict[str, float] = tp["cpu_us_per_frame"]
        print(
            f"  CPU per frame while draining: {sum(cpu.values()):,.0f} us in all, "
            + ", ".join(f"{part} {us:,.0f}" for part, us in cpu.items() if us >= 1)
        )
    fleets = [int(n) for n in a.latency_cars.split(",") if n.strip()] or [a.cars]
    if a.latency_seconds <= 0:
        fleets = []
    runs = []
    for n in fleets:
        print(f"latency (bridge -> 100 ms window readable in Cassandra), {n} cars at 50 Hz in real time:")
        lt = latency(n, a.latency_seconds)
        print(
            f"  {lt.get('windows', 0)} windows: p50 {lt.get('p50_ms', float('nan')):.0f} ms, p95 "
            f"{lt.get('p95_ms', float('nan')):.0f} ms, p99 {lt.get('p99_ms', float('nan')):.0f} ms "
            f"(target p95 < 2,000 ms); last windows of the stream, closed by the idle timeout: "
            f"{lt.get('stream_end_max_ms', float('nan')):.0f} ms",
            flush=True,
        )
        runs.append(lt)
    if a.json:
        topology["load_average_after"] = os.getloadavg()
        a.json.write_text(json.dumps({**topology, "throughput": tp, "latency": runs}, indent=2))


if __name__ == "__main__":
    main()
