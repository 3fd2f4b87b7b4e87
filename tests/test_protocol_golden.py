"""Protocol-v1 golden vectors (unity_bridge/golden): the Python codec reproduces them byte for byte,
rejects the invalid ones for the documented reason, and they are current for the channel catalog."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from p424.catalog import CATALOG, CHANNELS, Catalog, Channel
from p424.codec.dmg1 import decode_dmg1
from p424.codec.frame import (
    FLAG_SYNTHESISED,
    MAX_DATAGRAM,
    SEQUENCE_MODULO,
    FrameError,
    RejectReason,
    decode_frame,
    encode_frame,
    frame_size,
)
from unity_bridge import golden_vectors as gv

GOLDEN = gv.ROOT / gv.GOLDEN_DIR
INVALID = gv.ROOT / gv.INVALID_DIR
VALID_CASES = sorted(p.stem for p in GOLDEN.glob("*.json"))
INVALID_CASES = sorted(p.stem for p in INVALID.glob("*.json"))


def _case(name: str) -> tuple[dict[str, Any], bytes]:
    doc = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    return doc, gv.read_hex((GOLDEN / f"{name}.hex").read_text(encoding="utf-8"))


def _f32(v: float) -> float:
    return float(np.float32(v))


def test_golden_files_are_current_for_the_catalog() -> None:
    problems = gv.stale_files()
    assert not problems, gv.stale_message(problems)


def test_case_files_on_disk_are_the_generated_cases() -> None:
    assert sorted(c.name for c in gv.golden_cases()) == VALID_CASES
    assert sorted(c.name for c in gv.invalid_cases()) == INVALID_CASES
    assert len(VALID_CASES) >= 4
    for name in VALID_CASES:
        assert (GOLDEN / f"{name}.hex").is_file()
    for name in INVALID_CASES:
        assert (INVALID / f"{name}.hex").is_file()


@pytest.mark.parametrize("name", VALID_CASES)
def test_python_encoder_turns_golden_json_into_its_hex(name: str) -> None:
    doc, data = _case(name)
    assert doc["catalog_hash"] == CATALOG.hash_hex
    assert doc["channel_count"] == len(CATALOG.payload_channels)
    assert encode_frame(gv.header_from_json(doc), doc["values"]) == data
    assert len(data) == frame_size(doc["channel_count"]) <= MAX_DATAGRAM


@pytest.mark.parametrize("name", VALID_CASES)
def test_python_decoder_turns_golden_hex_into_its_json(name: str) -> None:
    doc, data = _case(name)
    frame = decode_frame(data)
    assert frame.header == gv.header_from_json(doc)
    values: dict[str, float] = doc["values"]
    present = {CATALOG.payload_names[i] for i in np.flatnonzero(frame.present)}
    assert present == set(values)
    for channel, v in values.items():
        assert frame.value(channel) == _f32(v), channel  # float32 on the wire
    absent = [i for i, n in enumerate(CATALOG.payload_names) if n not in values]
    assert np.isnan(frame.values[absent]).all()


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.hex")) + sorted(INVALID.glob("*.hex")), ids=lambda p: p.name)
def test_hex_files_are_lowercase_and_wrapped_at_64(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    lines = text[:-1].split("\n")
    assert all(len(line) == gv.HEX_LINE for line in lines[:-1])
    assert 0 < len(lines[-1]) <= gv.HEX_LINE and len(lines[-1]) % 2 == 0
    assert set("".join(lines)) <= set("0123456789abcdef")


def test_full_case_carries_every_channel_and_the_sparse_case_only_lap_file_columns() -> None:
    full, _ = _case("full_catalog")
    assert list(full["values"]) == list(CATALOG.payload_names)
    sparse, data = _case("lap_replay_sparse")
    columns = {CATALOG[n].csv_column for n in sparse["values"]}
    assert "SPEED" in columns and "POWERELECTRICALTOTAL" in columns and len(columns) == 13
    presence = int.from_bytes(data[48:56], "little")
    assert presence == sum(1 << CATALOG.payload_index[n] for n in sparse["values"])


def test_regen_case_has_negative_power_and_the_last_sequence_before_the_wrap() -> None:
    doc, data = _case("regen_sequence_wrap")
    frame = decode_frame(data)
    assert frame.header.sequence == SEQUENCE_MODULO - 1
    assert frame.value("power_electrical_total") == -429.75
    assert frame.header.markers >> 16 == 1  # a custom marker bit above the 16 predefined ones
    # The next frame of the session carries sequence 0.
    wrapped = encode_frame(dataclasses.replace(gv.header_from_json(doc), sequence=SEQUENCE_MODULO), doc["values"])
    assert decode_frame(wrapped).header.sequence == 0


def test_dmg1_case_is_what_the_bridge_makes_of_its_datagram() -> None:
    doc, data = _case("dmg1_synthesised")
    motion = decode_dmg1(bytes.fromhex(doc["source"]["datagram_hex"]))
    assert motion.values == doc["values"]
    frame = decode_frame(data)
    assert frame.header.flags & FLAG_SYNTHESISED
    assert frame.header.sim_time == motion.sim_time
    assert (frame.header.lap, frame.header.lap_distance, frame.header.markers) == (0, 0.0, 0)


@pytest.mark.parametrize("name", INVALID_CASES)
def test_invalid_vectors_are_rejected_for_their_reason(name: str) -> None:
    side = json.loads((INVALID / f"{name}.json").read_text(encoding="utf-8"))
    data = gv.read_hex((INVALID / f"{name}.hex").read_text(encoding="utf-8"))
    assert len(data) == side["size"]
    with pytest.raises(FrameError) as err:
        decode_frame(data)
    assert err.value.reason is RejectReason(side["reason"])


def test_every_reject_reason_has_an_invalid_vector() -> None:
    reasons = {json.loads(p.read_text(encoding="utf-8"))["reason"] for p in INVALID.glob("*.json")}
    assert reasons == {r.value for r in RejectReason}


def test_a_catalog_change_makes_the_vectors_stale_with_instructions() -> None:
    extra = Channel(
        name="brake_temperature_fl", unit="degC", group="brakes", lo=0, hi=1200,
        description="Front-left brake disc temperature",
    )
    grown = Catalog((*CHANNELS, extra))
    problems = gv.stale_files(grown)
    assert "stale golden/full_catalog.hex" in problems
    assert f"stale {gv.CSHARP_CATALOG}" in problems
    message = gv.stale_message(problems, grown)
    assert "python -m unity_bridge.golden_vectors" in message and grown.hash_hex in message
    # What the stale check protects against: old frames are refused by the new catalog's decoder.
    _, data = _case("full_catalog")
    with pytest.raises(FrameError) as err:
        decode_frame(data, grown)
    assert err.value.reason is RejectReason.CATALOG_MISMATCH


def test_display_metadata_changes_leave_the_generated_files_current() -> None:
    redisplayed = Catalog(
        dataclasses.replace(c, lo=c.lo - 1, description=c.description + ".", group="x", multiplier=2.0)
        for c in CHANNELS
    )
    assert redisplayed.hash == CATALOG.hash
    assert gv.stale_files(redisplayed) == []


def test_generator_writes_checks_and_prunes_a_tree(tmp_path: Path) -> None:
    written = gv.write(root=tmp_path)
    assert len(written) == len(gv.render())
    assert gv.stale_files(root=tmp_path) == []
    for rel in gv.render():
        assert (tmp_path / rel).read_bytes() == (gv.ROOT / rel).read_bytes()

    (tmp_path / gv.GOLDEN_DIR / "old_case.hex").write_text("00\n")
    (tmp_path / gv.GOLDEN_DIR / "full_catalog.hex").write_text("00\n")
    (tmp_path / gv.INVALID_DIR / "bad_magic.json").unlink()
    assert gv.stale_files(root=tmp_path) == [
        "stale golden/full_catalog.hex",
        "missing golden/invalid/bad_magic.json",
        "unexpected golden/old_case.hex",
    ]
    assert sorted(gv.write(root=tmp_path)) == [
        "removed golden/old_case.hex",
        "wrote golden/full_catalog.hex",
        "wrote golden/invalid/bad_magic.json",
    ]
    assert gv.stale_files(root=tmp_path) == []


def test_check_mode_of_the_generator_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert gv.main(["--check"]) == 0
    assert CATALOG.hash_hex in capsys.readouterr().out
