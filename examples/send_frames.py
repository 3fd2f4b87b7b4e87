"""Send telemetry frames from Python with the platform's protocol (protocol v1, UDP to the bridge).

A toy car drives a 2 km loop at a speed that varies along the lap, sending a few catalog channels
at 20 Hz for `--seconds` of session time (paced in real time unless `--fast`). It builds each
datagram with `p424.codec.frame` (header: session clock, lap, lap distance, start-line marker;
payload: channels by catalog name, the rest absent) and sends it with `unity_bridge.sender`, the
same path the Unity plugin takes. Then it shows what the platform stored.

    .platform/venvs/platform/bin/python examples/send_frames.py [--seconds 90] [--fast]
"""

from __future__ import annotations

import argparse
import math
import time

from p424.codec.frame import FrameHeader, encode_frame
from p424.config import load_config
from p424.markers import MARKER_START_LINE
from p424.storage.reader import TelemetryStore
from unity_bridge.intake import new_session_id
from unity_bridge.sender import FrameSender, Pacer

LAP_M = 2000.0
RATE_HZ = 20.0


def channels(distance: float) -> dict[str, float]:
    """A few catalog channels (SI units, see p424/catalog/channels.py) for a car at ``distance`` into the lap."""
    phase = 2 * math.pi * distance / LAP_M
    speed = 45.0 + 15.0 * math.sin(3 * phase)  # m/s: three corners a lap
    accelerating = math.cos(3 * phase) > 0
    return {
        "speed": speed,
        "throttle": 1.0 if accelerating else 0.2,
        "brake_pressure": 0.0 if accelerating else 30.0,
        "power_electrical_total": 350.0 if accelerating else -150.0,  # kW, negative while regenerating
        "battery_soc": 0.9,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=90.0, help="session time to send")
    ap.add_argument("--fast", action="store_true", help="send as fast as possible instead of in real time")
    args = ap.parse_args()
    cfg = load_config()
    session_id, car_id = new_session_id(), 42
    pacer = Pacer(None if args.fast else 1.0)
    lap, lap_distance, sent = 1, 0.0, 0
    with FrameSender(cfg.host_of("bridge"), cfg.bridge_udp_port) as sender:
        for i in range(int(args.seconds * RATE_HZ)):
            t = i / RATE_HZ
            values = channels(lap_distance)
            markers = MARKER_START_LINE if lap_distance == 0.0 else 0
            header = FrameHeader(
                car_id=car_id,
                session_id=session_id,
                sequence=i,
                sim_time=t,
                lap=lap,
                lap_distance=lap_distance,
                markers=markers,
            )
            pacer.wait(t)
            sender.send(encode_frame(header, values))
            sent += 1
            lap_distance += values["speed"] / RATE_HZ
            if lap_distance >= LAP_M:
                lap, lap_distance = lap + 1, 0.0
    print(f"sent {sent} frames: car {car_id}, session {session_id}, {lap - 1} complete lap(s)")

    # Processing stores the frames within seconds; the open lap is summarised once the session is idle.
    deadline = time.monotonic() + 120
    with TelemetryStore(cfg) as store:
        while (quality := store.quality(session_id) or {}).get("frames_received", 0) < sent or not store.laps(
            session_id
        ):
            if time.monotonic() > deadline:
                print("processing has not caught up after 120 s: is the Flink job running? ./launchcommand.sh status")
                break
            time.sleep(2)
        print(f"stored: {quality.get('frames_received', 0)} frames, lost {quality.get('frames_lost', 0)}")
        for row in store.laps(session_id):
            print(
                f"  lap {row['lap']}: {row['lap_time']:.1f} s, {row['distance']:.0f} m, "
                f"complete={row['complete']}, net energy {row['energy_net_kwh'] or 0:.3f} kWh"
            )
    print("more: ./launchcommand.sh laps --session", session_id)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
