"""A deterministic Nordschleife-like track: a closed 3-D line with curvature, grade, sectors and DRS zones.

The layout is not surveyed data: it is a corner table in the order and character of the Nürburgring
Nordschleife (start after the Hohenrain chicane as the simulator's lap does, Hatzenbach, Flugplatz crest,
Fuchsröhre compression, Karussell, Pflanzgarten jump, 2.1 km Döttinger Höhe), scaled to 20,680 m.
Corner radii were tuned so that the reference car at full pace laps in about 313 s, as the simulator does.

Conventions (checked against the real export in tests/data/perrinn424_training_data_excerpt_15s.csv):
- ``curvature`` is ISO 8855, positive turning left; the lap is driven clockwise, so it turns -360 deg in all;
- ``heading`` is the simulator's RotationY: degrees clockwise from +z seen from above (Unity: y up, the map is
  x against z), so d(heading)/ds = -curvature; ``x``, ``z`` are Unity world metres, ``x`` to the right of +z;
- ``s`` is metres along the road; ``elevation`` is metres above sea level, ``grade`` the rise over the run
  (tan of the slope, positive uphill; d(elevation)/ds is the slope's sine), and ``vertical_curvature`` the
  slope angle's rate along the road (negative on a crest, positive in a compression).

Closing the loop: the corner table alone turns only a few degrees net and would end kilometres from its
start, so a gentle correction curvature (straights only, never above 1/1,500 m, ~1/2,800 m on average) is
solved for once so that the line turns exactly -360 deg and comes back to its start: on the 2 m grid the
integrated end misses the start by ~1e-10 m, rounding (``Track.closure_error_m``). The straights become
the long sweeps most Nordschleife "straights" are; the corners keep their tuned radii.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]

LAP_LENGTH_M = 20_680.0


@dataclass(frozen=True)
class Corner:
    """A constant-radius arc preceded by a straight; direction +1 is a left turn (ISO 8855, y to the left)."""

    name: str
    straight_before: float  # m
    radius: float  # m
    arc: float  # m
    direction: int
    elevation: float  # m above sea level at the middle of the arc (approximate, see CORNERS)


@dataclass(frozen=True)
class VerticalFeature:
    """A crest (negative curvature) or compression (positive) of the road profile seen from the car."""

    name: str
    start: float  # m from the start line
    length: float  # m
    curvature: float  # 1/m; the car feels v**2 * curvature vertically


# The simulator's lap starts on the short run out of the Hohenrain chicane (the real fixture crosses the
# line at 37 m/s under full power, reaches 62 m/s, brakes to 25 m/s around 260 m, and so on).
# Directions follow the real corners (T13 and Karussell left, Hatzenbach-Bogen, Aremberg and Bergwerk right,
# Lauda-Links left as its name says); the real export's first 15 s turn left at T13 and right through
# Hatzenbach-Bogen, as this table does. Heights are approximate, after the Nordschleife's published
# elevation profile: about 620 m at T13 and the Hohe Acht, 320 m at Breidscheid (~300 m span); the real
# export drops 38 m over its first 860 m.
CORNERS: tuple[Corner, ...] = (
    Corner("T13 Sabine-Schmitz-Kurve", 190, 32, 70, 1, 621),
    Corner("Hatzenbach-Bogen", 280, 185, 110, -1, 597),
    Corner("Hatzenbach 1", 260, 73, 70, 1, 575),
    Corner("Hatzenbach 2", 70, 84, 60, -1, 570),
    Corner("Hatzenbach 3", 80, 74, 60, 1, 566),
    Corner("Hatzenbach 4", 80, 108, 70, -1, 561),
    Corner("Hocheichen approach", 220, 288, 120, 1, 550),
    Corner("Hocheichen", 170, 72, 80, -1, 545),
    Corner("Quiddelbacher Hoehe", 420, 360, 160, 1, 560),
    Corner("Flugplatz", 360, 156, 100, -1, 562),
    Corner("Kottenborn", 520, 504, 220, 1, 532),
    Corner("Schwedenkreuz", 320, 576, 220, -1, 522),
    Corner("Aremberg", 360, 48, 80, -1, 497),
    Corner("Fuchsroehre", 220, 456, 220, 1, 445),
    Corner("Fuchsroehre exit", 260, 312, 120, -1, 455),
    Corner("Adenauer Forst 1", 220, 43, 55, 1, 468),
    Corner("Adenauer Forst 2", 40, 50, 55, -1, 470),
    Corner("Metzgesfeld 1", 320, 180, 100, 1, 455),
    Corner("Metzgesfeld 2", 130, 156, 100, -1, 445),
    Corner("Kallenhard", 420, 74, 90, -1, 420),
    Corner("Spiegelkurve", 190, 126, 90, 1, 402),
    Corner("Miss-Hit-Miss", 160, 102, 80, -1, 385),
    Corner("Wehrseifen", 220, 43, 70, 1, 360),
    Corner("Breidscheid", 260, 66, 80, -1, 322),
    Corner("Ex-Muehle", 300, 50, 70, 1, 330),
    Corner("Lauda-Links", 460, 114, 90, 1, 345),
    Corner("Bergwerk", 260, 60, 90, -1, 365),
    Corner("Kesselchen", 920, 432, 260, 1, 420),
    Corner("Klostertal", 420, 360, 160, -1, 460),
    Corner("Steilstrecke", 260, 66, 80, -1, 490),
    Corner("Caracciola-Karussell", 320, 36, 115, 1, 515),
    Corner("Hohe Acht", 420, 228, 110, -1, 565),
    Corner("Hedwigshoehe", 320, 82, 80, 1, 575),
    Corner("Wippermann 1", 160, 67, 70, -1, 562),
    Corner("Wippermann 2", 70, 72, 70, 1, 556),
    Corner("Eschbach", 320, 90, 90, -1, 545),
    Corner("Bruennchen 1", 260, 66, 80, -1, 540),
    Corner("Bruennchen 2", 160, 79, 80, 1, 536),
    Corner("Eiskurve", 320, 192, 100, -1, 535),
    Corner("Pflanzgarten 1", 360, 138, 90, 1, 530),
    Corner("Pflanzgarten 2", 260, 168, 90, -1, 520),
    Corner("Stefan-Bellof-S 1", 320, 210, 110, 1, 515),
    Corner("Stefan-Bellof-S 2", 70, 210, 110, -1, 520),
    Corner("Schwalbenschwanz", 260, 50, 100, -1, 535),
    Corner("Kleines Karussell", 160, 38, 80, 1, 540),
    Corner("Galgenkopf", 260, 138, 100, -1, 555),
    Corner("Antoniusbuche", 2100, 780, 300, 1, 605),  # the 2.1 km Doettinger Hoehe comes before it
    Corner("Tiergarten", 320, 504, 160, -1, 612),
    Corner("Hohenrain 1", 220, 34, 50, 1, 615),
    Corner("Hohenrain 2", 25, 30, 50, -1, 615),
)
FINAL_STRAIGHT_M = 20.0  # Hohenrain exit to the line: the car crosses it at about 37 m/s, as in the fixture

VERTICAL: tuple[VerticalFeature, ...] = (
    VerticalFeature("Flugplatz crest", 3_130, 60, -1 / 260),
    VerticalFeature("Fuchsroehre compression", 6_050, 120, 1 / 330),
    VerticalFeature("Bergwerk dip", 10_950, 80, 1 / 600),
    VerticalFeature("Kesselchen crest", 11_900, 90, -1 / 700),
    VerticalFeature("Pflanzgarten jump", 16_700, 40, -1 / 200),
    VerticalFeature("Pflanzgarten landing", 16_745, 50, 1 / 250),
    VerticalFeature("Doettinger Hoehe hump", 19_000, 120, -1 / 1500),
)

SECTOR_LINES_M: tuple[float, ...] = (6_880.0, 13_760.0)  # start of sectors 2 and 3; sector 1 starts at 0
DRS_MIN_STRAIGHT_M = 600.0  # straights at least this long get a DRS zone
DRS_OPEN_AFTER_M = 120.0  # zone opens this far into the straight
DRS_CLOSE_BEFORE_M = 380.0  # and closes this far before its end, ahead of any braking point
TRANSITION_M = 24.0  # curvature ramps in and out over this length (clothoid-like entries)
ELEVATION_SMOOTHING_M = 400.0  # the height profile between corners is smoothed over this length (twice)
START_ELEVATION_M = 615.0  # at the line
# Unity world y = elevation - this: the real export's PositionY at the line is 139.3 m (Frame 5299)
UNITY_Y_OFFSET_M = 476.0
# Heading at the line: turns the map so its bounding box (5.8 x 5.8 km) fits the catalog's +-3,500 m
# position range. (The real track's heading there is ~150 deg, but this synthetic loop would then be
# 7.3 km wide: its shape is not the real one.)
START_HEADING_DEG = 15.0
LOOP_TURNING_RAD = -2.0 * math.pi  # the Nordschleife is driven clockwise


@dataclass(frozen=True, eq=False)
class Track:
    """Arrays sampled on a uniform distance grid ``s`` (n + 1 nodes including both ends of the lap)."""

    name: str
    length: float
    ds: float
    s: F64
    curvature: F64  # 1/m, + left, loop closure included
    vertical_curvature: F64  # 1/m, + compression: d(grade)/ds
    corner_id: I32  # index into ``corners`` of the corner each node belongs to (its straight included)
    drs_zone: npt.NDArray[np.bool_]
    sector_lines: tuple[float, ...]
    corners: tuple[Corner, ...]
    arc_start: F64  # m: where each corner's arc begins (its straight ends)
    heading: F64  # deg clockwise from +z (the simulator's RotationY), unwrapped: START_HEADING_DEG + 360 at the end
    x: F64  # m, Unity world
    z: F64  # m, Unity world
    elevation: F64  # m above sea level
    grade: F64  # rise over run (tan of the slope), + uphill
    closure_error_m: float  # distance between the integrated end of the lap and its start

    @property
    def n_sectors(self) -> int:
        return len(self.sector_lines) + 1

    @property
    def y(self) -> F64:
        """Unity world height (m)."""
        out: F64 = self.elevation - UNITY_Y_OFFSET_M
        return out

    def sector_of(self, distance: F64) -> I32:
        """1-based sector index of lap distances."""
        return (np.searchsorted(np.asarray(self.sector_lines), distance, side="right") + 1).astype(np.int32)


def _smooth(x: F64, width: int) -> F64:
    if width <= 1:
        return x
    kernel = np.ones(width) / width
    padded = np.concatenate([x[-width:], x, x[:width]])  # the lap is a loop
    return np.convolve(padded, kernel, mode="same")[width:-width]


def _cumtrapz(y: F64, dx: float) -> F64:
    out: F64 = np.r_[0.0, np.cumsum(0.5 * (y[1:] + y[:-1]))] * dx
    return out


def _close_loop(s: F64, curvature: F64, weight: F64, horizontal: F64, ds: float) -> F64:
    """``curvature`` plus ``weight * (a + b sin(2 pi s / L) + c cos(2 pi s / L))``, with (a, b, c) solved by
    Newton's method so that the line turns LOOP_TURNING_RAD and its integrated end meets its start
    (``horizontal``: metres of map per metre of road, the cosine of the slope)."""
    phase = 2.0 * math.pi * s / s[-1]
    basis = np.stack([weight, weight * np.sin(phase), weight * np.cos(phase)])

    def residual(p: F64) -> F64:
        psi = -_cumtrapz(curvature + p @ basis, ds)  # heading, clockwise
        turned = -psi[-1]  # ISO: the curvature integral
        return np.array([
            turned - LOOP_TURNING_RAD, _cumtrapz(np.sin(psi) * horizontal, ds)[-1],
            _cumtrapz(np.cos(psi) * horizontal, ds)[-1],
        ])

    p = np.array([(LOOP_TURNING_RAD - _cumtrapz(curvature, ds)[-1]) / _cumtrapz(weight, ds)[-1], 0.0, 0.0])
    for _ in range(20):
        r = residual(p)
        if np.max(np.abs(r)) < 1e-7:
            break
        jac = np.empty((3, 3))
        for j in range(3):
            dp = np.zeros(3)
            dp[j] = 1e-8
            jac[:, j] = (residual(p + dp) - r) / 1e-8
        p = p - np.linalg.solve(jac, r)
    else:
        raise RuntimeError("the track loop did not close")  # the corner table changed beyond what this solves
    out: F64 = curvature + p @ basis
    return out


def _elevation(s: F64, corners: tuple[Corner, ...], centres: list[float], ds: float) -> F64:
    """Heights through the corners' elevations (and the line's), linear between them, smoothed, periodic."""
    knots_s = np.array([0.0, *centres, s[-1]])
    knots_h = np.array([START_ELEVATION_M, *(c.elevation for c in corners), START_ELEVATION_M])
    h = np.interp(s, knots_s, knots_h)
    width = max(1, round(ELEVATION_SMOOTHING_M / ds))
    out: F64 = _smooth(_smooth(h, width), width)
    return out


def _feature_grade(s: F64, ds: float) -> F64:
    """Grade of the crests and compressions. Each is kept local: the road curves the other way at a sixth
    of the feature's curvature over three feature lengths before and after it, so grade and height come
    back to where they were (Flugplatz: a 10 m hump, Fuchsroehre: a 33 m dip). Numerical residue is removed
    as a linear trend and a mean (below 1e-9)."""
    vertical = np.zeros(len(s))
    for f in VERTICAL:
        ramp = 3.0 * f.length
        vertical[(s >= f.start - ramp) & (s < f.start)] -= f.curvature / 6.0
        vertical[(s >= f.start) & (s < f.start + f.length)] += f.curvature
        vertical[(s >= f.start + f.length) & (s < f.start + f.length + ramp)] -= f.curvature / 6.0
    vertical = _smooth(vertical, max(1, round(20.0 / ds)))
    grade = _cumtrapz(vertical, ds)
    grade -= grade[-1] * s / s[-1]
    grade -= _cumtrapz(grade, ds)[-1] / s[-1]
    return grade


@lru_cache(maxsize=8)
def nordschleife(ds: float = 2.0, length: float = LAP_LENGTH_M) -> Track:
    """The Nordschleife-like lap on a ``ds``-metre grid, straights scaled so the lap is ``length`` long."""
    arcs = sum(c.arc for c in CORNERS)
    straights = sum(c.straight_before for c in CORNERS) + FINAL_STRAIGHT_M
    k = (length - arcs) / straights  # stretch straights only, so corner geometry stays as tuned
    n = round(length / ds)
    ds = length / n
    s = np.linspace(0.0, length, n + 1)
    curvature = np.zeros(n + 1)
    corner_id = np.zeros(n + 1, dtype=np.int32)
    drs = np.zeros(n + 1, dtype=np.bool_)
    in_arc = np.zeros(n + 1, dtype=np.bool_)
    centres: list[float] = []
    arc_start: list[float] = []
    pos = 0.0
    for i, c in enumerate(CORNERS):
        straight = c.straight_before * k
        seg_end = pos + straight
        corner_id[(s >= pos) & (s < seg_end + c.arc)] = i
        if straight >= DRS_MIN_STRAIGHT_M:
            drs[(s >= pos + DRS_OPEN_AFTER_M) & (s < seg_end - DRS_CLOSE_BEFORE_M)] = True
        arc = (s >= seg_end) & (s < seg_end + c.arc)
        curvature[arc] = c.direction / c.radius
        in_arc |= arc
        centres.append(seg_end + c.arc / 2)
        arc_start.append(seg_end)
        pos = seg_end + c.arc
    corner_id[s >= pos] = 0  # the final straight leads to T13 of the next lap
    # height: s is measured along the road, so a metre of road climbs sin(slope) and covers cos(slope) of map
    profile = _elevation(s, CORNERS, centres, ds)
    rise = np.gradient(profile, ds) + _feature_grade(s, ds)
    rise[-1] = rise[0]
    rise -= _cumtrapz(rise, ds)[-1] / length  # np.gradient's ~1 cm of drift: the height comes back exactly
    elevation = profile[0] + _cumtrapz(rise, ds)
    horizontal = np.sqrt(1.0 - rise * rise)
    curvature = _smooth(curvature, max(1, round(TRANSITION_M / ds)))
    straight_weight = _smooth((~in_arc).astype(np.float64), max(1, round(100.0 / ds)))
    curvature = _close_loop(s, curvature, straight_weight, horizontal, ds)
    psi = -_cumtrapz(curvature, ds)
    heading = START_HEADING_DEG + np.degrees(psi)
    yaw = psi + math.radians(START_HEADING_DEG)
    x, z = _cumtrapz(np.sin(yaw) * horizontal, ds), _cumtrapz(np.cos(yaw) * horizontal, ds)
    closure = float(np.hypot(x[-1] - x[0], z[-1] - z[0]))
    x -= 0.5 * (x.min() + x.max())  # the map centred on the world origin
    z -= 0.5 * (z.min() + z.max())
    return Track(
        name="Nordschleife-like", length=length, ds=ds, s=s, curvature=curvature,
        vertical_curvature=np.gradient(np.arcsin(rise), ds), corner_id=corner_id, drs_zone=drs,
        sector_lines=SECTOR_LINES_M,
        corners=CORNERS, arc_start=np.asarray(arc_start), heading=heading, x=x, z=z, elevation=elevation,
        grade=rise / horizontal, closure_error_m=closure,
    )
