"""Catalog versions: history stays readable after a channel is added (no services needed).

The scenario of every test: catalog N is what the platform used so far, N+1 the same catalog with
one more channel (the next one-line change, ``tests.catalogs.grown``). Data written under N, and
frames still sent by N senders, must read under N+1 by channel name, the new channel absent.
The platform test of the same scenario, through every reader, is in tests/test_catalog_platform.py.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from p424.catalog import CATALOG, Catalog
from p424.catalog.history import VERSIONS_DIR, register, registered_versions, render, unregistered, version_file
from p424.codec.frame import OFFSET, FrameEncoder, FrameError, FrameHeader, RejectReason, decode_frame, encode_frame
from p424.processing import session as session_module
from p424.processing.outputs import Outputs
from p424.processing.session import SessionProcessor
from p424.processing.state import SessionState
from p424.storage import window_stats
from tests.catalogs import channel, grown
from unity_bridge.intake import Accepted, Rejected, classify, classify_batch
from unity_bridge.lapfile import lap_frames, read_lap_file

NEW = channel("brake_temperature_fl", unit="degC", group="brakes", hi=1200, key=True)


# ---------------------------------------------------------------- the registry files
def test_every_registered_version_is_a_canonical_file_named_by_its_hash() -> None:
    versions = registered_versions()
    assert versions, "no catalog version registered"
    for catalog in versions:
        path = version_file(catalog)
        assert path.exists()
        assert path.read_text(encoding="utf-8") == render(catalog)  # one channel per line, as written
        assert json.loads(path.read_text(encoding="utf-8"))["hash"] == catalog.hash_hex
    assert len({c.hash for c in versions}) == len(versions)
    assert len({c.version for c in versions}) == len(versions)


def test_the_current_catalog_is_registered_and_knows_every_version() -> None:
    assert unregistered(CATALOG) is None
    assert set(CATALOG.history) == {c.hash for c in registered_versions()}
    assert CATALOG.known(CATALOG.hash) is CATALOG


def test_an_unregistered_change_is_named_with_what_to_run(tmp_path: Path) -> None:
    bigger = grown(NEW)
    problem = unregistered(bigger)
    assert problem is not None and "python -m p424.catalog register" in problem
    for path in VERSIONS_DIR.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    written = register(bigger, tmp_path)
    assert written is not None and written.name == f"99.0.0-{bigger.hash_hex}.json"
    assert register(bigger, tmp_path) is None  # written once
    assert bigger.hash in {c.hash for c in registered_versions(tmp_path)}
    same_version = Catalog((*bigger.channels, channel("another")), "99.0.0")
    with pytest.raises(ValueError, match="new CATALOG_VERSION"):
        register(same_version, tmp_path)


def test_a_channel_may_not_change_its_unit_under_the_same_name() -> None:
    speed = CATALOG["speed"]
    changed = [c if c.name != "speed" else channel("speed", unit="km/h", hi=360) for c in CATALOG.channels]
    with pytest.raises(ValueError, match=r"'speed' is 'm/s'.*new name"):
        Catalog(changed, "99.0.0", history=[CATALOG])
    assert speed.unit == "m/s"


# ---------------------------------------------------------------- frames
def _full_frame(catalog: Catalog, seq: int = 0) -> tuple[bytes, dict[str, float]]:
    values = {c.name: float(i + 1) for i, c in enumerate(catalog.payload_channels)}
    header = FrameHeader(car_id=1, session_id=9, sequence=seq, sim_time=seq * 0.02, catalog_hash=catalog.hash)
    return encode_frame(header, values, catalog), values


def test_a_frame_of_catalog_n_reads_under_n_plus_1_by_name() -> None:
    bigger = grown(NEW)
    data, values = _full_frame(CATALOG)
    frame = decode_frame(data, bigger)
    assert frame.header.catalog_hash == CATALOG.hash
    assert frame.values.shape == (len(bigger.payload_channels),)
    for name, v in values.items():
        assert frame.value(name, bigger) == v
    assert frame.value(NEW.name, bigger) is None
    assert NEW.name not in frame.as_dict(bigger)


@pytest.mark.parametrize("old", [c for c in CATALOG.history.values() if c is not CATALOG], ids=lambda c: c.version)
def test_frames_of_every_registered_older_version_read_under_the_current_catalog(old: Catalog) -> None:
    data, values = _full_frame(old)
    frame = decode_frame(data)
    for name in CATALOG.payload_names:
        assert frame.value(name) == values.get(name), name


def test_the_bridge_accepts_older_known_senders_and_dead_letters_unknown_ones() -> None:
    bigger = grown(NEW)
    old, _ = _full_frame(CATALOG, seq=1)
    new, _ = _full_frame(bigger, seq=2)
    unknown = bytearray(old)
    struct.pack_into("<I", unknown, OFFSET["catalog_hash"], 0xDEADBEEF)
    results = classify_batch([new, old, bytes(unknown)], bigger)
    assert isinstance(results[0], Accepted) and results[0].ids.catalog_hash == bigger.hash
    assert isinstance(results[1], Accepted) and results[1].ids.catalog_hash == CATALOG.hash
    rejected = results[2]
    assert isinstance(rejected, Rejected) and rejected.reason is RejectReason.UNKNOWN_CATALOG
    assert "deadbeef" in rejected.detail  # the sender's hash, for whoever reads the dead letter
    assert classify(old, bigger) == results[1]


def test_a_frame_claiming_a_known_catalog_with_another_channel_count_is_refused() -> None:
    data = bytearray(_full_frame(CATALOG)[0])
    struct.pack_into("<H", data, OFFSET["channel_count"], len(CATALOG.payload_channels) + 1)
    with pytest.raises(FrameError) as err:
        decode_frame(bytes(data))
    assert err.value.reason is RejectReason.UNKNOWN_CATALOG


# ---------------------------------------------------------------- stored windows
def test_a_window_blob_packed_under_n_unpacks_under_n_plus_1() -> None:
    bigger = grown(NEW)
    n = len(CATALOG.payload_channels)
    stats = [np.arange(n, dtype=np.float32) + k * 1000 for k in range(4)]
    blob = window_stats.pack(*stats, catalog=CATALOG)
    matrix = window_stats.unpack(blob, bigger)
    assert matrix.shape == (4, n + 1)
    np.testing.assert_array_equal(matrix[:, :n], np.vstack(stats))
    assert np.isnan(matrix[:, n]).all()
    columns = window_stats.row_values({"stats": blob}, ["speed_mean", f"{NEW.name}_max"], bigger)
    assert columns["speed_mean"] == float(stats[2][CATALOG.payload_index["speed"]])
    assert columns[f"{NEW.name}_max"] is None


# ---------------------------------------------------------------- checkpointed state across the upgrade
def _stint(csv: Path, catalog: Catalog, session_id: int = 5) -> list[bytes]:
    lap = read_lap_file(csv)
    samples = list(lap_frames(lap, 2, 1, session_id))
    present = ~np.isnan(samples[0][1])
    encoder = FrameEncoder(catalog.from_payload(present.astype(np.float32), CATALOG) > 0, catalog)
    frames = []
    for header, values in samples:
        written_with = dataclasses.replace(header, catalog_hash=catalog.hash)
        frames.append(encoder.encode(written_with, np.nan_to_num(catalog.from_payload(values, CATALOG))))
    return frames


def test_a_session_checkpointed_under_n_continues_under_n_plus_1(
    fixture_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job restores keyed state written by the previous catalog's code when a channel is added."""
    bigger = grown(NEW)
    old_frames = _stint(fixture_csv, CATALOG)
    half = len(old_frames) // 2 + 7  # mid-lap, mid-window
    proc = SessionProcessor(5, 1)  # catalog N
    state = SessionState(proc)
    for i, raw in enumerate(old_frames[:half]):
        state.pending.extend(proc.on_frame(raw, 1_000 + 20 * i))
    checkpoint = pickle.dumps(state)

    monkeypatch.setattr(session_module, "CATALOG", bigger)  # the job redeployed with catalog N+1
    monkeypatch.setattr("p424.processing.state.CATALOG", bigger)
    restored: SessionState = pickle.loads(checkpoint)
    assert restored.processor.layout_hash == bigger.hash and restored.layout_hash == bigger.hash
    for w in restored.pending.windows:
        assert w.means.shape == (len(bigger.payload_channels),)
    for lap in restored.pending.laps:
        assert lap.mins.shape == (len(bigger.key_names),)
    out = Outputs()
    # The rest of the session: half from a sender still on N, half from one rebuilt on N+1.
    new_frames = _stint(fixture_csv, bigger)
    rest = old_frames[half : half + 300] + new_frames[half + 300 :]
    for i, raw in enumerate(rest, start=half):
        out.extend(restored.processor.on_frame(raw, 1_000 + 20 * i))
    out.extend(restored.processor.flush())

    reference = SessionProcessor(5, 1, catalog=bigger)  # what a job on N+1 all along computes
    expected = Outputs()
    for i, raw in enumerate(new_frames):
        expected.extend(reference.on_frame(raw, 1_000 + 20 * i))
    expected.extend(reference.flush())
    got = {lap.lap: lap for lap in out.laps}
    want = {lap.lap: lap for lap in expected.laps}
    assert set(want) <= set(got) and got[1].complete
    for number, lap in want.items():
        assert got[number].lap_time == pytest.approx(lap.lap_time, abs=1e-9)
        assert got[number].energy_net_kwh == pytest.approx(lap.energy_net_kwh, rel=1e-6)
        assert got[number].frames == lap.frames
        np.testing.assert_allclose(got[number].maxs, lap.maxs, rtol=1e-6)
    assert int(out.sessions[-1].catalog_hash, 16) == bigger.hash  # the sender's catalog, last seen
