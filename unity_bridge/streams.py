"""Getting a session in without Unity: replaying a lap file, or simulating cars, over UDP."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from p424.catalog import CATALOG
from p424.codec.frame import FrameEncoder, FrameHeader, encode_frame
from p424.sim import CarSimulator, driver_pace
from unity_bridge.intake import new_session_id
from unity_bridge.lapfile import LapFile, lap_frames, read_lap_file, stint_presence
from unity_bridge.sender import FrameSender, Pacer, Progress

Sample = tuple[FrameHeader, npt.NDArray[np.float32]]
Encode = Callable[[FrameHeader, npt.NDArray[np.float32]], bytes]


@dataclass(frozen=True)
class StreamResult:
    frames_sent: int
    sessions: dict[int, int]  # session id -> car id
    seconds: float
    unknown_columns: tuple[str, ...] = ()
    track: str = ""

    @property
    def rate(self) -> float:
        return self.frames_sent / self.seconds if self.seconds > 0 else 0.0


def send_samples(
    samples: Iterator[Sample],
    encode: Encode,
    host: str,
    port: int,
    speed: float | None,
    total: int | None,
    what: str,
    max_rate: float | None = None,
    quiet: bool = False,
) -> int:
    """Encode and send samples in order, paced by sim time (``speed``) or capped at ``max_rate``."""
    pacer = Pacer(speed)
    progress = Progress(what, total)
    start = time.perf_counter()
    with FrameSender(host, port) as sender:
        for i, (header, values) in enumerate(samples):
            pacer.wait(header.sim_time)
            if max_rate is not None:
                due = start + i / max_rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            sender.send(encode(header, values))
            if not quiet:
                progress.tick(i + 1)
        return sender.sent


def replay_lap_file(
    path: Path,
    host: str,
    port: int,
    speed: float | None = 1.0,
    laps: int = 1,
    car_id: int = 1,
    session_id: int | None = None,
    max_rate: float | None = None,
    quiet: bool = False,
) -> StreamResult:
    """Read a lap file (every check done before the first frame) and send it as a stint."""
    return replay_lap(read_lap_file(path), host, port, speed, laps, car_id, session_id, max_rate, quiet)


def lap_encoder(lap: LapFile) -> Encode:
    """One presence mask packed once for the stint, or each frame's own where the file leaves
    channels without a value in some rows."""
    present = stint_presence(lap, CATALOG)
    if present is None:
        return encode_frame
    return FrameEncoder(present, CATALOG).encode


def replay_lap(
    lap: LapFile,
    host: str,
    port: int,
    speed: float | None = 1.0,
    laps: int = 1,
    car_id: int = 1,
    session_id: int | None = None,
    max_rate: float | None = None,
    quiet: bool = False,
) -> StreamResult:
    sid = session_id or new_session_id()
    start = time.monotonic()
    sent = send_samples(
        lap_frames(lap, laps, car_id, sid),
        lap_encoder(lap),
        host,
        port,
        speed,
        lap.samples * laps + 1,
        f"replay {lap.path.name}",
        max_rate,
        quiet,
    )
    return StreamResult(sent, {sid: car_id}, time.monotonic() - start, lap.unknown_columns, lap.track)


def simulated_cars(cars: int, rate_hz: float, laps: int, seed: int, first_car_id: int = 1) -> list[CarSimulator]:
    """One simulator, and one session, per car."""
    return [
        CarSimulator(car_id, new_session_id(), seed, driver_pace(seed, car_id), rate_hz=rate_hz, laps=laps)
        for car_id in range(first_car_id, first_car_id + cars)
    ]


def interleave(sims: list[CarSimulator]) -> Iterator[Sample]:
    """All cars' samples merged by session time, as they would arrive from a grid of simulators."""
    streams = [s.samples() for s in sims]
    heap: list[tuple[float, int, int, Sample]] = []
    for i, st in enumerate(streams):
        first = next(st, None)
        if first is not None:
            heap.append((first[0].sim_time, i, 0, first))
    heapq.heapify(heap)
    counter = 0
    while heap:
        _, i, _, sample = heapq.heappop(heap)
        yield sample
        nxt = next(streams[i], None)
        if nxt is not None:
            counter += 1
            heapq.heappush(heap, (nxt[0].sim_time, i, counter, nxt))


def simulate(
    host: str,
    port: int,
    cars: int = 1,
    rate_hz: float = 50.0,
    laps: int = 1,
    seed: int = 0,
    speed: float | None = 1.0,
    max_rate: float | None = None,
    quiet: bool = False,
) -> StreamResult:
    sims = simulated_cars(cars, rate_hz, laps, seed)
    start = time.monotonic()
    sent = send_samples(
        interleave(sims),
        FrameEncoder(None, CATALOG).encode,
        host,
        port,
        speed,
        None,
        f"simulate {cars} car(s) at {rate_hz:g} Hz",
        max_rate,
        quiet,
    )
    return StreamResult(sent, {s.session_id: s.car_id for s in sims}, time.monotonic() - start)
