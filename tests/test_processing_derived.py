"""Maths channels in the session processor's windows, checked against pandas; checkpoints with the new
state (open windows' maths columns, open events, alarm states) across pickling, across an edited
maths file and from state written before maths channels existed.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from p424 import derived
from p424.catalog import CATALOG
from p424.derived.files import Source
from p424.processing.outputs import Outputs
from p424.processing.session import SessionProcessor
from tests.reference import reference_maths
from tests.test_derived_events import crafted
from tests.test_derived_events import run as run_crafted
from tests.test_processing import T0_MS, encode_stint, run


@pytest.mark.parametrize("window_ms", [100, 1000])
def test_maths_window_stats_match_pandas_groupby_on_the_computed_channel(fixture_csv: Path, window_ms: int) -> None:
    raws, _, df = encode_stint(fixture_csv, laps=2)
    out = run(SessionProcessor(77, 1), raws)
    names = derived.default().maths.names
    computed = pd.DataFrame(reference_maths(df)).replace([np.inf, -np.inf], np.nan)
    keyed = computed.assign(lap=df["lap"], window=np.floor(df["sim_time"] * 1000 / window_ms).astype(int))
    ref = keyed.groupby(["lap", "window"])
    anchor = T0_MS - round(df["sim_time"].iloc[0] * 1000)
    rows = {(w.lap, (w.ts_ms - anchor) // window_ms): w for w in out.windows if w.window_ms == window_ms}
    assert set(rows) == set(ref.groups)
    checked = 0
    for key, group in ref:
        w = rows[key]
        assert w.maths is not None and w.maths.names == names
        for j, name in enumerate(names):
            col = group[name]
            present = col.dropna()
            want = (
                [present.min(), present.max(), present.mean(), present.iloc[-1]] if len(present) else [np.nan] * 4
            )
            np.testing.assert_allclose(w.maths.values[:, j], want, rtol=2e-5, atol=1e-3, equal_nan=True, err_msg=name)
            checked += len(present) > 0
    assert checked > len(rows) * 5  # the MGU channels of the real file, in every window


def test_windows_keep_their_catalog_vectors_and_units() -> None:
    d = derived.default()
    proc = SessionProcessor(5, 1)
    assert proc.maths_names == d.maths.names
    headers, values = crafted(Path(__file__).parent / "data" / "perrinn424_lap_start_mgu_50hz.csv")
    out = run_crafted(headers[:600], values[:600])
    w = out.windows[10]
    assert len(w.mins) == len(CATALOG.payload_channels) and w.maths is not None
    assert w.maths.units == d.maths.units and w.maths.values.shape == (4, len(d.maths))


def _rounded(values: np.ndarray) -> tuple[float | None, ...]:
    return tuple(None if np.isnan(v) else round(float(v), 4) for v in values.ravel())


def outputs_comparable(out: Outputs) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    windows = sorted(
        (w.window_ms, w.lap, round(w.window_start, 3), w.frame_count, _rounded(w.maths.values))
        for w in out.windows
        if w.maths is not None
    )
    events = sorted((e.lap, e.kind, e.corner, round(e.start_sim_time, 6), round(e.duration, 6)) for e in out.events)
    alerts = [(a.limit_name, a.kind, round(a.sim_time, 6)) for a in out.alerts]
    return windows, events, alerts


FULL_POWER = """
[[limit]]
name = "full_power"
channel = "power_mgu_total"
above = 700
unit = "kW"
for_s = 1.0
clear_margin = 100
clear_for_s = 0.5
summary = "The MGUs at more than 700 kW for 1 s"
"""


def test_checkpoint_restore_mid_stream_keeps_maths_events_and_alarms(fixture_csv: Path) -> None:
    # A limit the real lap crosses (its full-power stretches), on a maths channel.
    defs = derived.from_sources(
        Source.read("config/maths_channels.toml"), Source.read("config/events.toml"), Source("alarms.toml", FULL_POWER)
    )
    raws, _, _ = encode_stint(fixture_csv, laps=2)
    whole = run(SessionProcessor(77, 1, definitions=defs), raws)
    assert len(whole.alerts) >= 4 and whole.alerts[0].kind == "raise"
    probe = SessionProcessor(77, 1, definitions=defs)
    cut = next(i for i, raw in enumerate(raws) if probe.on_frame(raw, T0_MS + i * 20).alerts) + 50  # mid-alarm
    first = SessionProcessor(77, 1, definitions=defs)
    out = Outputs()
    for i, raw in enumerate(raws[:cut]):
        out.extend(first.on_frame(raw, T0_MS + i * 20))
    assert first.alarm_states.states["full_power"].active
    state = pickle.dumps(first)
    assert len(state) < 64_000
    restored: SessionProcessor = pickle.loads(state)
    restored.bind(defs)  # as the Flink function does with its definitions
    for i, raw in enumerate(raws[cut:], start=cut):
        out.extend(restored.on_frame(raw, T0_MS + i * 20))
    out.extend(restored.flush())
    assert outputs_comparable(out) == outputs_comparable(whole)


def test_restore_under_an_edited_maths_file_maps_open_windows_by_name(fixture_csv: Path) -> None:
    default = derived.default()
    text = Source.read("config/maths_channels.toml").text
    edited_text = text.replace('name = "power_mgu_total"', 'name = "power_mgu_sum"').replace(
        "power_mgu_total", "power_mgu_sum"
    )
    edited = derived.from_sources(
        Source("maths.toml", edited_text), Source.read("config/events.toml"), Source.read("config/alarms.toml")
    )
    assert "power_mgu_sum" in edited.maths.names and "power_mgu_total" not in edited.maths.names
    raws, _, _ = encode_stint(fixture_csv, laps=1)
    cut = 333  # mid-window of both sizes
    before = SessionProcessor(77, 1, definitions=default)
    out = Outputs()
    for i, raw in enumerate(raws[:cut]):
        out.extend(before.on_frame(raw, T0_MS + i * 20))
    after: SessionProcessor = pickle.loads(pickle.dumps(before))
    after.bind(edited)
    for i, raw in enumerate(raws[cut:], start=cut):
        out.extend(after.on_frame(raw, T0_MS + i * 20))
    out.extend(after.flush())
    reference = run(SessionProcessor(77, 1, definitions=edited), raws)
    cut_time = 333 * 0.02

    def by_window(o: Outputs) -> dict[tuple[int, int, float], dict[str, np.ndarray]]:
        return {
            (w.window_ms, w.lap, round(w.window_start, 3)): dict(zip(w.maths.names, w.maths.values.T, strict=True))
            for w in o.windows
            if w.maths is not None and w.maths.names == edited.maths.names
        }

    got, want = by_window(out), by_window(reference)
    spanning = [k for k in want if k[2] <= cut_time < k[2] + k[0] / 1000]
    assert len(spanning) == 2  # the 100 ms and the 1 s window open at the restore
    for key, channels in want.items():
        if key[2] + key[0] / 1000 <= cut_time:
            continue  # closed before the restore: written under the old file
        for name, stats in channels.items():
            if name == "power_mgu_sum" and key in spanning:
                # New to the open window: only its frames since the restore.
                assert got[key][name][3] == pytest.approx(stats[3])  # the last value is the same
                continue
            np.testing.assert_allclose(got[key][name], stats, rtol=1e-6, equal_nan=True, err_msg=f"{key} {name}")


def test_state_checkpointed_before_maths_channels_existed_restores(fixture_csv: Path) -> None:
    raws, _, _ = encode_stint(fixture_csv, laps=1)
    old = SessionProcessor(77, 1, definitions=derived.none())
    for i, raw in enumerate(raws[:500]):
        old.on_frame(raw, T0_MS + i * 20)
    state = old.__getstate__()
    for key in ("maths_names", "event_runs", "alarm_states"):
        del state[key]  # what a processor pickled by the previous code holds
    restored = SessionProcessor.__new__(SessionProcessor)
    restored.__setstate__(state)
    out = Outputs()
    for i, raw in enumerate(raws[500:], start=500):
        out.extend(restored.on_frame(raw, T0_MS + i * 20))  # binds this process's default definitions
    out.extend(restored.flush())
    assert restored.maths_names == derived.default().maths.names
    late = [w for w in out.windows if w.window_start > 500 * 0.02 + 1.0]
    assert late and all(w.maths is not None and not np.isnan(w.maths.values[2, 0]) for w in late)


def test_outputs_pickled_before_events_and_alerts_existed_restore() -> None:
    legacy = Outputs()
    state = dict(legacy.__dict__)
    del state["events"], state["alerts"]
    restored = Outputs.__new__(Outputs)
    restored.__setstate__(state)
    restored.extend(Outputs())
    assert restored.events == [] and restored.alerts == [] and len(restored) == 0
