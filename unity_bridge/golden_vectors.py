"""Golden test vectors of protocol v1 and the catalog-derived C# constants of the Unity sender.

Every file this module writes is derived from ``p424/catalog/channels.py`` and ``p424/codec/frame.py``;
none is edited by hand (see unity_bridge/PROTOCOL.md, "Golden vectors")::

    python -m unity_bridge.golden_vectors           # rewrite the generated files, register the catalog
    python -m unity_bridge.golden_vectors --check   # exit 1 when any of them is missing or stale

Generated: ``golden/<case>.json`` (inputs) + ``golden/<case>.hex`` (the datagram),
``golden/invalid/<case>.hex`` + ``.json`` (expected reject reason),
``unity/P424Telemetry/P424Catalog.g.cs`` (the catalog's wire layout and simulator names) and
``unity/P424Telemetry/P424Units.g.cs`` (the unit table of ``p424/units.py``, so the Unity sender
converts the simulator's display units exactly as the platform's lap-file reading does).
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from p424 import units
from p424.catalog import CATALOG, Catalog, history
from p424.codec.dmg1 import decode_dmg1, encode_dmg1
from p424.codec.frame import (
    FLAG_SYNTHESISED,
    HEADER_SIZE,
    MAX_DATAGRAM,
    OFFSET,
    VERSION,
    FrameHeader,
    RejectReason,
    encode_frame,
    frame_size,
    payload_offset,
    presence_words,
)
from p424.markers import MARKER_DISTANCE_RESET, MARKER_SECTOR_LINE, MARKER_TIME_RESET

ROOT = Path(__file__).resolve().parent
GOLDEN_DIR = "golden"
INVALID_DIR = "golden/invalid"
CSHARP_CATALOG = "unity/P424Telemetry/P424Catalog.g.cs"
CSHARP_UNITS = "unity/P424Telemetry/P424Units.g.cs"
HEX_LINE = 64
GENERATOR = "python -m unity_bridge.golden_vectors"

# One recording session id per case family: microseconds since the Unix epoch, as the sender makes them.
SESSION = 1_732_406_400_000_000
CAR_ID = 424


@dataclass(frozen=True)
class GoldenCase:
    name: str
    description: str
    header: FrameHeader
    values: dict[str, float]
    source: dict[str, str] = field(default_factory=dict)  # provenance of synthesised frames


@dataclass(frozen=True)
class InvalidCase:
    name: str
    description: str
    reason: RejectReason
    data: bytes


# A flat-out, DRS-open sample (Döttinger Höhe). Channels appended to the catalog later and not
# listed here get their display-range midpoint, so this case always carries every channel.
_FULL_VALUES: dict[str, float] = {
    "sector": 2, "total_distance": 31234.5, "speed": 83.5,
    "motor_rpm_front": 11250.5, "motor_rpm_rear": 11248.0,
    "power_electrical_front": 248.25, "power_electrical_rear": 496.5, "power_electrical_total": 744.75,
    "power_balance": 0.3333333, "efficiency_front": 0.952, "efficiency_rear": 0.948,
    "torque_mechanical_front": 210.5, "torque_mechanical_rear": 421.25,
    "torque_rotor_front": 208.0, "torque_rotor_rear": 418.75,
    "throttle": 1.0, "brake_pressure": 0.0, "steering_angle": -12.5, "gear": 1,
    "torque_diff_front": 15.5, "torque_diff_rear": -32.25, "speed_diff_front": 0.125, "speed_diff_rear": -0.0625,
    "accel_longitudinal": 3.25, "accel_lateral": -14.5, "accel_vertical": 0.75,
    "roll_rate": 0.02, "pitch_rate": -0.01, "yaw_rate": -0.18,
    "roll_acceleration": 0.5, "pitch_acceleration": -0.25, "yaw_acceleration": 1.5,
    "roll_angle": 0.85, "ride_height_front": 0.032, "ride_height_rear": 0.058, "drs_position": 1.0,
    "steering_torque": 6.5,
    "slip_ratio_fl": 0.021, "slip_ratio_fr": 0.019, "slip_ratio_rl": 0.045, "slip_ratio_rr": 0.043,
    "slip_angle_fl": -1.2, "slip_angle_fr": -1.4, "slip_angle_rl": -0.9, "slip_angle_rr": -1.1,
    "tyre_temperature_fl": 92.5, "tyre_temperature_fr": 95.0,
    "tyre_temperature_rl": 98.25, "tyre_temperature_rr": 101.5,
    "battery_temperature": 48.2, "battery_total_heat": 111712.5, "battery_air_mass_flow": 1.9,
    "battery_heat_dissipation": 1500.5, "battery_heat_dissipated": 1.25e6, "battery_q_internal": 3.5e6,
    "battery_soc": 0.62, "battery_energy": 34.1,
    # catalog 1.1.0 (today's simulator)
    "position_x": 1523.25, "position_y": 118.5, "position_z": -2210.75, "heading": 247.5,
    "attitude_pitch": -0.75, "attitude_roll": 0.5,
    "brake_position": 0.0, "lift_and_coast": 0, "raw_steer": -347, "raw_throttle": 10000, "raw_brake": 0,
    "automatic_gear": 4,
    "power_balance_feed_forward": 0.3333333, "power_balance_offset": 0.0, "power_balance_delivered": 0.3333333,
    "wheel_torque_balance": 0.34, "pre_efficiency_power_front": 260.5, "pre_efficiency_power_rear": 521.0,
    "wheel_rpm_diff_front": 1.5, "wheel_rpm_diff_rear": -2.25,
    "torque_friction_front": 12.5, "torque_friction_rear": -25.0,
    "wheel_speed_fl": 83.25, "wheel_speed_fr": 83.5, "wheel_speed_rl": 84.75, "wheel_speed_rr": 84.5,
    "wheel_rpm_fl": 2295.5, "wheel_rpm_fr": 2302.25, "wheel_rpm_rl": 2336.75, "wheel_rpm_rr": 2330.0,
    "wheel_load_fl": 5625.0, "wheel_load_fr": 5480.5, "wheel_load_rl": 7210.25, "wheel_load_rr": 7050.0,
    "camber_fl": -3.25, "camber_fr": -3.5, "camber_rl": -2.0, "camber_rr": -2.25,
    "suspension_travel_fl": 0.0415, "suspension_travel_fr": 0.0422, "suspension_travel_rl": 0.0561,
    "suspension_travel_rr": 0.0553,
    "roll_angle_front": 0.45, "roll_angle_rear": 0.375, "ground_slope": -1.25, "ground_grade": -0.0218,
    "understeer_angle": 0.625,
    "aero_scz_front": 1.05, "aero_scz_rear": 1.65, "aero_scx": 0.875, "aero_balance": 0.39,
    "aero_downforce_front": 4512.5, "aero_downforce_rear": 7091.25, "aero_drag": 3760.0, "aero_front_flap": 1.5,
    "air_density": 1.18,
    "battery_power": 780.25, "battery_power_rms": 512.75, "battery_net_energy": 18.625,
}

# First row of /work/shared/fixtures/perrinn424_lap_start_mgu_50hz.csv (a simulator lap-file export):
# TIME, DISTANCE, MARKERS, then its channel columns.
_LAP_ROW_TIME, _LAP_ROW_DISTANCE, _LAP_ROW_MARKERS = 0.006, 0.222, MARKER_TIME_RESET | MARKER_DISTANCE_RESET
_LAP_ROW: dict[str, float] = {
    "SPEED": 36.89207, "MOTORRPMFRONT": 8392.781, "MOTORRPMREAR": 7892.599,
    "POWERELECTRICALFRONT": 190.323, "POWERELECTRICALREAR": 380.646, "POWERELECTRICALTOTAL": 570.969,
    "POWERBALANCE": 0.333333, "EFFICIENCYFRONT": 0.949, "EFFICIENCYREAR": 0.945,
    "TORQUEMECHANICALFRONT": 205.458, "TORQUEMECHANICALREAR": 435.446,
    "TORQUEROTORFRONT": 207.675, "TORQUEROTORREAR": 431.733,
}

# Full regenerative braking from 260 km/h: negative powers and torques, a custom marker bit above 15.
_REGEN_VALUES: dict[str, float] = {
    "speed": 72.25, "motor_rpm_front": 9800.0, "motor_rpm_rear": 9750.5,
    "power_electrical_front": -148.5, "power_electrical_rear": -281.25, "power_electrical_total": -429.75,
    "power_balance": 0.3455497, "efficiency_front": 0.93, "efficiency_rear": 0.931,
    "torque_mechanical_front": -180.5, "torque_mechanical_rear": -361.0,
    "throttle": 0.0, "brake_pressure": 86.5, "steering_angle": -4.75, "gear": 1,
    "accel_longitudinal": -37.75, "accel_lateral": 1.5,
    "slip_ratio_fl": -0.085, "slip_ratio_fr": -0.082, "slip_ratio_rl": -0.061, "slip_ratio_rr": -0.064,
}

# What an unmodified simulator's motion output carries (DMG1 field order, ISO 8855 axes).
_DMG1_SIM_TIME = 96.02
_DMG1_VALUES: dict[str, float] = {
    "accel_longitudinal": 12.5, "accel_lateral": -18.25, "accel_vertical": 9.80665,
    "roll_acceleration": 0.35, "pitch_acceleration": -0.12, "yaw_acceleration": 2.75,
    "steering_torque": 7.5, "speed": 55.5,
}


def _check_names(names: Mapping[str, float], catalog: Catalog, case: str) -> None:
    unknown = sorted(set(names) - set(catalog.payload_names))
    if unknown:
        raise ValueError(f"golden case {case!r} uses channels missing from the catalog: {unknown}; update {__name__}")


def golden_cases(catalog: Catalog = CATALOG) -> tuple[GoldenCase, ...]:
    """The valid cases, in a fixed order."""
    _check_names(_FULL_VALUES, catalog, "full_catalog")
    _check_names(_REGEN_VALUES, catalog, "regen_sequence_wrap")
    full = {c.name: _FULL_VALUES.get(c.name, (c.lo + c.hi) / 2) for c in catalog.payload_channels}

    by_column = catalog.by_csv_column()
    lap_row = {by_column[col].name: v for col, v in _LAP_ROW.items()}
    _check_names(lap_row, catalog, "lap_replay_sparse")

    dmg1 = encode_dmg1(_DMG1_SIM_TIME, _DMG1_VALUES)
    motion = decode_dmg1(dmg1)  # the compatibility path the bridge takes
    _check_names(motion.values, catalog, "dmg1_synthesised")

    return (
        GoldenCase(
            "full_catalog",
            "Every payload channel present: flat out with DRS open, lap 2.",
            FrameHeader(car_id=CAR_ID, session_id=SESSION, sequence=20_618, sim_time=412.36, lap=2,
                        lap_distance=10_543.875, markers=0, catalog_hash=catalog.hash),
            full,
        ),
        GoldenCase(
            "lap_replay_sparse",
            "A lap-file replay: only the channels of the simulator's MGU lap export (first row of "
            "perrinn424_lap_start_mgu_50hz.csv); markers 3 = time and distance reset.",
            FrameHeader(car_id=CAR_ID, session_id=SESSION + 1, sequence=0, sim_time=_LAP_ROW_TIME, lap=1,
                        lap_distance=_LAP_ROW_DISTANCE, markers=_LAP_ROW_MARKERS, catalog_hash=catalog.hash),
            {n: lap_row[n] for n in catalog.payload_names if n in lap_row},
        ),
        GoldenCase(
            "regen_sequence_wrap",
            "Full regenerative braking (negative power and torque); the last sequence number before "
            "the wrap to 0; markers = sector line (bit 4) + custom marker 0 (bit 16); car id 65535.",
            FrameHeader(car_id=65_535, session_id=2**63 - 1, sequence=2**32 - 1, sim_time=86_399.98, lap=7,
                        lap_distance=1_204.5, markers=MARKER_SECTOR_LINE | (1 << 16), catalog_hash=catalog.hash),
            {n: _REGEN_VALUES[n] for n in catalog.payload_names if n in _REGEN_VALUES},
        ),
        GoldenCase(
            "dmg1_synthesised",
            "A DMG1 motion datagram wrapped by the bridge: FLAG_SYNTHESISED, synthesised session and "
            "sequence, simulationTime as sim_time, no lap data, the eight DMG1 channels.",
            FrameHeader(car_id=CAR_ID, session_id=SESSION + 2, sequence=4_800, sim_time=motion.sim_time, lap=0,
                        lap_distance=0.0, markers=0, flags=FLAG_SYNTHESISED, catalog_hash=catalog.hash),
            {n: motion.values[n] for n in catalog.payload_names if n in motion.values},
            {"format": "DMG1", "datagram_hex": dmg1.hex()},
        ),
    )


def _patch(data: bytes, offset: int, raw: bytes) -> bytes:
    return data[:offset] + raw + data[offset + len(raw):]


def invalid_cases(catalog: Catalog = CATALOG) -> tuple[InvalidCase, ...]:
    """One datagram per reject reason (two for truncation), derived from the valid cases."""
    cases = {c.name: c for c in golden_cases(catalog)}
    full = encode_frame(cases["full_catalog"].header, cases["full_catalog"].values, catalog)
    sparse = cases["lap_replay_sparse"]
    n = len(catalog.payload_channels)
    speed_at = payload_offset(n) + 4 * catalog.payload_index["speed"]
    nan32 = struct.pack("<f", math.nan)
    r = RejectReason
    return (
        InvalidCase("truncated_header", "40 bytes: shorter than the 48-byte header.", r.TRUNCATED, full[:40]),
        InvalidCase("truncated_payload", "A full frame missing its last value.", r.TRUNCATED, full[:-4]),
        InvalidCase("oversized", f"{MAX_DATAGRAM + 1} bytes: a valid frame zero-padded past the maximum datagram.",
                    r.OVERSIZED, full + bytes(MAX_DATAGRAM + 1 - len(full))),
        InvalidCase("bad_magic", 'Magic "P425".', r.BAD_MAGIC, _patch(full, OFFSET["magic"], b"P425")),
        InvalidCase("unsupported_version", "Version byte 2.", r.UNSUPPORTED_VERSION,
                    _patch(full, OFFSET["version"], bytes([2]))),
        InvalidCase("unknown_catalog", "Catalog hash with every bit flipped.", r.UNKNOWN_CATALOG,
                    _patch(full, OFFSET["catalog_hash"], struct.pack("<I", catalog.hash ^ 0xFFFF_FFFF))),
        InvalidCase("size_mismatch", "A full frame followed by 4 extra bytes.", r.SIZE_MISMATCH, full + bytes(4)),
        InvalidCase("bad_header", "session_id 0 (session ids are > 0).", r.BAD_HEADER,
                    _patch(encode_frame(sparse.header, sparse.values, catalog), OFFSET["session_id"],
                           struct.pack("<q", 0))),
        InvalidCase("non_finite_value", "speed carries a float32 NaN with its presence bit set.", r.NON_FINITE,
                    _patch(full, speed_at, nan32)),
        InvalidCase("non_finite_header", "sim_time is a float64 NaN.", r.NON_FINITE,
                    _patch(full, OFFSET["sim_time"], struct.pack("<d", math.nan))),
    )


def hex_text(data: bytes) -> str:
    """Lowercase hex, 64 characters (32 bytes) a line, newline-terminated."""
    h = data.hex()
    return "".join(h[i:i + HEX_LINE] + "\n" for i in range(0, len(h), HEX_LINE))


def read_hex(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def _json_text(obj: object) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=True) + "\n"


def case_json(case: GoldenCase, catalog: Catalog = CATALOG) -> str:
    h = case.header
    doc: dict[str, object] = {
        "name": case.name,
        "description": case.description,
        "catalog_version": catalog.version,
        "catalog_hash": f"{h.catalog_hash:08x}",
        "channel_count": len(catalog.payload_channels),
        "header": {
            "version": h.version, "flags": h.flags, "car_id": h.car_id, "lap": h.lap,
            "session_id": h.session_id, "sequence": h.sequence, "markers": h.markers,
            "sim_time": h.sim_time, "lap_distance": h.lap_distance,
        },
        "values": case.values,
    }
    if case.source:
        doc["source"] = case.source
    return _json_text(doc)


def header_from_json(doc: Mapping[str, object]) -> FrameHeader:
    """The FrameHeader a golden json describes (its catalog hash comes from the json)."""
    h = doc["header"]
    assert isinstance(h, dict)
    return FrameHeader(
        car_id=int(h["car_id"]), session_id=int(h["session_id"]), sequence=int(h["sequence"]),
        sim_time=float(h["sim_time"]), lap=int(h["lap"]), lap_distance=float(h["lap_distance"]),
        markers=int(h["markers"]), flags=int(h["flags"]), catalog_hash=int(str(doc["catalog_hash"]), 16),
        version=int(h["version"]),
    )


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def cs_literal(text: str) -> str:
    """``text`` as a C# string literal: quotes and backslashes escaped, anything outside printable
    ASCII as \\uXXXX (units such as ``°/s`` stay exact whatever encoding Unity reads the file in)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            raise ValueError(f"{text!r}: characters outside the Basic Multilingual Plane are not emitted")
    return '"' + "".join(out) + '"'


def _cs_strings(items: Sequence[str], indent: str) -> str:
    return "\n".join(f"{indent}{cs_literal(s)}," for s in items)


def _cs_double(value: float) -> str:
    """A C# double literal that parses back to exactly ``value`` (repr is the shortest round trip)."""
    text = repr(float(value))
    if not math.isfinite(value):
        raise ValueError(f"{text} cannot be a unit factor")
    return text


def csharp_catalog(catalog: Catalog = CATALOG) -> str:
    """P424Catalog.g.cs: protocol constants, catalog hash and the payload channel table."""
    n = len(catalog.payload_channels)
    idents = [_pascal(c.name) for c in catalog.payload_channels]
    if len(set(idents)) != n:
        raise ValueError("two payload channel names map to the same C# identifier")
    width = max(len(i) for i in idents)
    # Units only, no descriptions: display metadata may change without regenerating the sender.
    index_lines = "\n".join(
        f"        public const int {ident.ljust(width)} = {i};  // {c.unit or '-'}"
        for i, (ident, c) in enumerate(zip(idents, catalog.payload_channels, strict=True))
    )
    ind = " " * 12
    alias_lines = "\n".join(
        f"{ind}new string[] {{ {', '.join(cs_literal(a) for a in c.sim_aliases)} }},  // {c.name}"
        if c.sim_aliases else f"{ind}new string[0],  // {c.name}"
        for c in catalog.payload_channels
    )
    signs = ", ".join(str(c.sim_sign) for c in catalog.payload_channels)
    return f"""// <auto-generated>
// Generated by `{GENERATOR}` from p424/catalog/channels.py (catalog {catalog.version}, hash {catalog.hash_hex}).
// Do not edit: change the catalog, rerun the generator and copy this file into the Unity project again.
// </auto-generated>

namespace Perrinn424.TelemetryBridge
{{
    /// <summary>Protocol-v1 constants and the channel catalog the sender was generated from.</summary>
    public static class P424Catalog
    {{
        public const string CatalogVersion = "{catalog.version}";
        public const uint CatalogHash = 0x{catalog.hash:08x}u;
        public const byte ProtocolVersion = {VERSION};
        public const byte FlagSynthesised = 0x{FLAG_SYNTHESISED:02x};
        public const int HeaderSize = {HEADER_SIZE};
        public const int ChannelCount = {n};
        public const int PresenceWords = {presence_words(n)};
        public const int PayloadOffset = {payload_offset(n)};
        public const int FrameSize = {frame_size(n)};
        public const int MaxDatagram = {MAX_DATAGRAM};

        /// <summary>Catalog names of the payload channels, in wire order.</summary>
        public static readonly string[] Names =
        {{
{_cs_strings(catalog.payload_names, ind)}
        }};

        /// <summary>The simulator's telemetry channel name of each payload channel (empty: none).</summary>
        public static readonly string[] SimNames =
        {{
{_cs_strings([c.sim_name for c in catalog.payload_channels], ind)}
        }};

        /// <summary>Names older simulators gave each payload channel, tried after its SimName.</summary>
        public static readonly string[][] SimAliases =
        {{
{alias_lines}
        }};

        /// <summary>
        /// -1 where the simulator's axis points the other way from the stored convention (ISO 8855),
        /// else 1: a value read from the simulator's telemetry is multiplied by it.
        /// </summary>
        public static readonly sbyte[] SimSigns = {{ {signs} }};

        /// <summary>Unit of each payload channel's value on the wire (p424/units.py spelling).</summary>
        public static readonly string[] Units =
        {{
{_cs_strings([c.unit for c in catalog.payload_channels], ind)}
        }};
    }}

    /// <summary>Wire index of each payload channel (its bit in the presence bitmap and its value slot).</summary>
    public static class P424Channel
    {{
{index_lines}
    }}
}}
"""


def csharp_units(
    table: Mapping[str, tuple[str, float]] | None = None, unstated: frozenset[str] | None = None
) -> str:
    """P424Units.g.cs: p424/units.py's table and its conversion rule, for the Unity sender."""
    table = units.UNITS if table is None else table
    unstated = units.UNSTATED if unstated is None else unstated
    ind = " " * 12
    spellings = list(table)
    width = max(len(cs_literal(s)) for s in spellings) + 1
    rows = "\n".join(
        f"{ind}new Unit({(cs_literal(s) + ',').ljust(width)} {cs_literal(base)}, {_cs_double(per)}),"
        for s, (base, per) in table.items()
    )
    return f"""// <auto-generated>
// Generated by `{GENERATOR}` from p424/units.py: the same table, and the same rule as its conversion().
// Do not edit: change p424/units.py, rerun the generator and copy this file into the Unity project again.
// </auto-generated>

namespace Perrinn424.TelemetryBridge
{{
    /// <summary>
    /// Units as the simulator displays them (its telemetry's displayUnits, its lap files' units row) and
    /// their conversion to the units the catalog stores: the table of p424/units.py.
    /// </summary>
    public static class P424Units
    {{
        /// <summary>Units rows write these for a value without a unit: taken as stored.</summary>
        static readonly string[] Unstated = {{ {", ".join(cs_literal(u) for u in sorted(unstated))} }};

        struct Unit
        {{
            public readonly string Spelling;  // as a units row writes it
            public readonly string Base;      // the unit it converts through
            public readonly double PerBase;   // how many Base one of it is

            public Unit(string spelling, string baseUnit, double perBase)
            {{
                Spelling = spelling;
                Base = baseUnit;
                PerBase = perBase;
            }}
        }}

        static readonly Unit[] Table =
        {{
{rows}
        }};

        public static int Count {{ get {{ return Table.Length; }} }}

        /// <summary>
        /// How a value written in <paramref name="written"/> becomes one in the catalog unit
        /// <paramref name="stored"/>: stored = written * <paramref name="factor"/>. Returns false with
        /// <paramref name="error"/> naming both units when <paramref name="written"/> is unknown or
        /// measures something else (p424.units.conversion raises UnitError in the same cases).
        /// </summary>
        public static bool TryConversion(string written, string stored, out double factor, out string error)
        {{
            factor = 1.0;
            error = null;
            written = written == null ? "" : written.Trim();
            if (System.Array.IndexOf(Unstated, written) >= 0 || written == stored)
                return true;
            int w = IndexOf(written);
            if (w < 0)
            {{
                error = "unknown unit '" + written + "' (known: " + Known() + ")";
                return false;
            }}
            if (stored == "")
            {{
                error = "unit '" + written + "' given for a value the catalog stores without a unit";
                return false;
            }}
            int s = IndexOf(stored);
            if (s < 0)
            {{
                error = "the catalog unit '" + stored + "' is not in p424/units.py";
                return false;
            }}
            if (Table[w].Base != Table[s].Base)
            {{
                error = "unit '" + written + "' does not measure what '" + stored + "' does";
                return false;
            }}
            factor = Table[w].PerBase / Table[s].PerBase;
            return true;
        }}

        static int IndexOf(string spelling)
        {{
            for (int i = 0; i < Table.Length; i++)
                if (Table[i].Spelling == spelling)
                    return i;
            return -1;
        }}

        static string Known()
        {{
            string[] names = new string[Count];
            for (int i = 0; i < names.Length; i++)
                names[i] = Table[i].Spelling;
            System.Array.Sort(names, System.StringComparer.Ordinal);
            return string.Join(", ", names);
        }}
    }}
}}
"""


def render(catalog: Catalog = CATALOG) -> dict[str, str]:
    """Every generated file: path relative to unity_bridge/ -> content."""
    out: dict[str, str] = {}
    for case in golden_cases(catalog):
        out[f"{GOLDEN_DIR}/{case.name}.json"] = case_json(case, catalog)
        out[f"{GOLDEN_DIR}/{case.name}.hex"] = hex_text(encode_frame(case.header, case.values, catalog))
    for bad in invalid_cases(catalog):
        out[f"{INVALID_DIR}/{bad.name}.hex"] = hex_text(bad.data)
        out[f"{INVALID_DIR}/{bad.name}.json"] = _json_text({
            "name": bad.name, "description": bad.description, "reason": bad.reason.value,
            "size": len(bad.data), "catalog_hash": catalog.hash_hex,
        })
    out[CSHARP_CATALOG] = csharp_catalog(catalog)
    out[CSHARP_UNITS] = csharp_units()
    return out


def _owned(root: Path) -> set[str]:
    """Files on disk in the generator's directories (it owns every .json/.hex there)."""
    found: set[str] = set()
    for folder in (GOLDEN_DIR, INVALID_DIR):
        d = root / folder
        if d.is_dir():
            found |= {p.relative_to(root).as_posix() for p in d.iterdir() if p.suffix in (".json", ".hex")}
    return found


def stale_files(catalog: Catalog = CATALOG, root: Path = ROOT) -> list[str]:
    """Problems with the generated files under ``root``; empty when they are current."""
    expected = render(catalog)
    problems: list[str] = []
    for rel, text in expected.items():
        path = root / rel
        if not path.is_file():
            problems.append(f"missing {rel}")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"stale {rel}")
    problems += [f"unexpected {rel}" for rel in sorted(_owned(root) - set(expected))]
    return problems


def stale_message(problems: Sequence[str], catalog: Catalog = CATALOG) -> str:
    listed = "\n  ".join(problems[:20]) + ("\n  ..." if len(problems) > 20 else "")
    return (
        f"protocol golden vectors / generated C# are not current for catalog {catalog.hash_hex}:\n  {listed}\n"
        f"Run `{GENERATOR}` and commit the result (copy the regenerated unity/P424Telemetry/*.g.cs into the "
        "Unity project as well)."
    )


def write(catalog: Catalog = CATALOG, root: Path = ROOT) -> list[str]:
    """Rewrite the generated files; returns the paths that changed."""
    expected = render(catalog)
    changed: list[str] = []
    for rel in sorted(_owned(root) - set(expected)):
        (root / rel).unlink()
        changed.append(f"removed {rel}")
    for rel, text in expected.items():
        path = root / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            changed.append(f"wrote {rel}")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=GENERATOR, description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="verify the generated files are current; write nothing")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_files()
        unregistered_catalog = history.unregistered(CATALOG)
        if unregistered_catalog:
            problems.append(unregistered_catalog)
        if problems:
            print(stale_message(problems), file=sys.stderr)
            return 1
        print(f"golden vectors, P424Catalog.g.cs and P424Units.g.cs are current (catalog {CATALOG.hash_hex})")
        return 0
    # The catalog's version file first: stored data and older senders stay readable after a change.
    registered = history.register(CATALOG)
    lines = write() + ([f"registered catalog {CATALOG.version} in {registered}"] if registered else [])
    for line in lines or ["nothing to do: every generated file is current"]:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
