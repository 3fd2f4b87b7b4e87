"""A deterministic Nordschleife-like track: curvature, vertical curvature, sectors and DRS zones.

The layout is not surveyed data: it is a corner table in the order and character of the Nürburgring
Nordschleife (start after the Hohenrain chicane as the simulator's lap does, Hatzenbach, Flugplatz crest,
Fuchsröhre compression, Karussell, Pflanzgarten jump, 2.1 km Döttinger Höhe), scaled to 20,680 m.
Corner radii were tuned so that the reference car at full pace laps in about 313 s, as the simulator does.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class VerticalFeature:
    """A crest (negative curvature) or compression (positive) of the road profile seen from the car."""

    name: str
    start: float  # m from the start line
    length: float  # m
    curvature: float  # 1/m; the car feels v**2 * curvature vertically


# The simulator's lap starts on the short run out of the Hohenrain chicane (the real fixture crosses the
# line at 37 m/s under full power, reaches 62 m/s, brakes to 25 m/s around 260 m, and so on).
CORNERS: tuple[Corner, ...] = (
    Corner("T13 Sabine-Schmitz-Kurve", 190, 32, 70, -1),
    Corner("Hatzenbach-Bogen", 280, 185, 110, 1),
    Corner("Hatzenbach 1", 260, 73, 70, -1),
    Corner("Hatzenbach 2", 70, 84, 60, 1),
    Corner("Hatzenbach 3", 80, 74, 60, -1),
    Corner("Hatzenbach 4", 80, 108, 70, 1),
    Corner("Hocheichen approach", 220, 288, 120, -1),
    Corner("Hocheichen", 170, 72, 80, 1),
    Corner("Quiddelbacher Hoehe", 420, 360, 160, -1),
    Corner("Flugplatz", 360, 156, 100, 1),
    Corner("Kottenborn", 520, 504, 220, -1),
    Corner("Schwedenkreuz", 320, 576, 220, 1),
    Corner("Aremberg", 360, 48, 80, 1),
    Corner("Fuchsroehre", 220, 456, 220, -1),
    Corner("Fuchsroehre exit", 260, 312, 120, 1),
    Corner("Adenauer Forst 1", 220, 43, 55, -1),
    Corner("Adenauer Forst 2", 40, 50, 55, 1),
    Corner("Metzgesfeld 1", 320, 180, 100, -1),
    Corner("Metzgesfeld 2", 130, 156, 100, 1),
    Corner("Kallenhard", 420, 74, 90, 1),
    Corner("Spiegelkurve", 190, 126, 90, -1),
    Corner("Miss-Hit-Miss", 160, 102, 80, 1),
    Corner("Wehrseifen", 220, 43, 70, -1),
    Corner("Breidscheid", 260, 66, 80, 1),
    Corner("Ex-Muehle", 300, 50, 70, -1),
    Corner("Lauda-Links", 460, 114, 90, -1),
    Corner("Bergwerk", 260, 60, 90, 1),
    Corner("Kesselchen", 920, 432, 260, -1),
    Corner("Klostertal", 420, 360, 160, 1),
    Corner("Steilstrecke", 260, 66, 80, 1),
    Corner("Caracciola-Karussell", 320, 36, 130, -1),
    Corner("Hohe Acht", 420, 228, 110, 1),
    Corner("Hedwigshoehe", 320, 82, 80, -1),
    Corner("Wippermann 1", 160, 67, 70, 1),
    Corner("Wippermann 2", 70, 72, 70, -1),
    Corner("Eschbach", 320, 90, 90, 1),
    Corner("Bruennchen 1", 260, 66, 80, 1),
    Corner("Bruennchen 2", 160, 79, 80, -1),
    Corner("Eiskurve", 320, 192, 100, 1),
    Corner("Pflanzgarten 1", 360, 138, 90, -1),
    Corner("Pflanzgarten 2", 260, 168, 90, 1),
    Corner("Stefan-Bellof-S 1", 320, 210, 110, -1),
    Corner("Stefan-Bellof-S 2", 70, 210, 110, 1),
    Corner("Schwalbenschwanz", 260, 50, 100, 1),
    Corner("Kleines Karussell", 160, 38, 80, -1),
    Corner("Galgenkopf", 260, 138, 100, 1),
    Corner("Antoniusbuche", 2100, 780, 300, -1),  # the 2.1 km Doettinger Hoehe comes before it
    Corner("Tiergarten", 320, 504, 160, 1),
    Corner("Hohenrain 1", 220, 34, 50, -1),
    Corner("Hohenrain 2", 25, 30, 50, 1),
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


@dataclass(frozen=True, eq=False)
class Track:
    """Arrays sampled on a uniform distance grid ``s`` (n + 1 nodes including both ends of the lap)."""

    name: str
    length: float
    ds: float
    s: F64
    curvature: F64  # 1/m, + left
    vertical_curvature: F64  # 1/m, + compression
    corner_id: I32  # index into ``corners`` of the corner each node belongs to (its straight included)
    drs_zone: npt.NDArray[np.bool_]
    sector_lines: tuple[float, ...]
    corners: tuple[Corner, ...]

    @property
    def n_sectors(self) -> int:
        return len(self.sector_lines) + 1

    def sector_of(self, distance: F64) -> I32:
        """1-based sector index of lap distances."""
        return (np.searchsorted(np.asarray(self.sector_lines), distance, side="right") + 1).astype(np.int32)


def _smooth(x: F64, width: int) -> F64:
    if width <= 1:
        return x
    kernel = np.ones(width) / width
    padded = np.concatenate([x[-width:], x, x[:width]])  # the lap is a loop
    return np.convolve(padded, kernel, mode="same")[width:-width]


@lru_cache(maxsize=8)
def nordschleife(ds: float = 2.0, length: float = LAP_LENGTH_M) -> Track:
    """The Nordschleife-like lap on a ``ds``-metre grid, straights scaled so the lap is ``length`` long."""
    arcs = sum(c.arc for c in CORNERS)
    straights = sum(c.straight_before for c in CORNERS) + FINAL_STRAIGHT_M
    k = (length - arcs) / straights  # stretch straights only, so corner geometry stays as tuned
    n = round(length / ds)
    s = np.linspace(0.0, length, n + 1)
    curvature = np.zeros(n + 1)
    corner_id = np.zeros(n + 1, dtype=np.int32)
    drs = np.zeros(n + 1, dtype=np.bool_)
    pos = 0.0
    for i, c in enumerate(CORNERS):
        straight = c.straight_before * k
        seg_end = pos + straight
        corner_id[(s >= pos) & (s < seg_end + c.arc)] = i
        if straight >= DRS_MIN_STRAIGHT_M:
            drs[(s >= pos + DRS_OPEN_AFTER_M) & (s < seg_end - DRS_CLOSE_BEFORE_M)] = True
        curvature[(s >= seg_end) & (s < seg_end + c.arc)] = c.direction / c.radius
        pos = seg_end + c.arc
    corner_id[s >= pos] = 0  # the final straight leads to T13 of the next lap
    curvature = _smooth(curvature, max(1, round(TRANSITION_M / ds)))
    vertical = np.zeros(n + 1)
    for f in VERTICAL:
        vertical[(s >= f.start) & (s < f.start + f.length)] += f.curvature
    vertical = _smooth(vertical, max(1, round(20.0 / ds)))
    return Track(
        name="Nordschleife-like", length=length, ds=length / n, s=s, curvature=curvature,
        vertical_curvature=vertical, corner_id=corner_id, drs_zone=drs, sector_lines=SECTOR_LINES_M,
        corners=CORNERS,
    )
