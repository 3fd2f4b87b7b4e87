"""The honest baseline: assume the rest of the lap goes like the lap so far.

Lap time = elapsed time x lap length / distance so far (the average pace so far, extrapolated);
net energy = energy so far x lap length / distance so far (the energy per metre so far,
extrapolated). The lap length is the median length of the training laps, carried by the model.
A model is worth deploying only if it beats this on laps it has not seen.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from p424.ml.features import MIN_DISTANCE_M

F64 = npt.NDArray[np.float64]


def extrapolate(
    elapsed_s: F64 | float, distance_m: F64 | float, energy_kwh: F64 | float, lap_length_m: float
) -> tuple[F64, F64]:
    """(lap time s, net energy kWh) extrapolated from the lap so far; vectorised."""
    if lap_length_m <= 0:
        raise ValueError(f"lap length must be positive, got {lap_length_m}")
    d = np.maximum(np.asarray(distance_m, dtype=np.float64), MIN_DISTANCE_M)
    scale = lap_length_m / d
    # Past the reference length the lap is nearly done: what has happened is the best guess.
    scale = np.maximum(scale, 1.0)
    return np.asarray(elapsed_s, dtype=np.float64) * scale, np.asarray(energy_kwh, dtype=np.float64) * scale
