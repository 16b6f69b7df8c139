"""How long an exact proof of BP1–BP4 will take, predicted before it starts.

`symgrad verify` proves every entry of every $\\delta^l$, $\\partial C/\\partial b^l$ and
$\\partial C/\\partial w^l$ with SymPy, then checks each against central differences at
`points` random points. Neither step can be sped up much, so a run that would take an hour is
refused up front (with the predicted time, the budget and the flag that raises it) rather than
left to run silently.

The model is fitted to timings measured on the development machine (the table is in
docs/verification.md, "How large, how long"). With $L$ layers of weights, $E$ proved entries
($E = \\sum_l n_l (n_{l-1} + 2)$: every $w$, $b$ and $\\delta^l_j$), batch $m$ and
$p$ points:

$$t \\approx c\\, (E m)^{\\alpha} \\left(E^{\\beta} / D\\right)^{L - 2} f + c_{\\text{num}}\\, (p - 3)\\, E^2 m$$

($f$ is larger for a tanh network with a sigmoid output, whose nested formulas mix two
activations). It is a rough, deliberately cautious figure: the point is to refuse the runs that
take hours, not to promise seconds.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..errors import UsageError

#: Fitted coefficients (least squares on log t over 27 runs, 2026-12-01; docs/verification.md), the
#: constant raised by a quarter so the figure errs long: t = c (E m)^α (E^β / D)^(L − 2) f + …
PROOF_SECONDS = 0.033
ENTRY_EXPONENT = 1.07
DEPTH_EXPONENT = 1.36
DEPTH_DIVISOR = 95.6
MIXED_ACTIVATIONS = 1.3
#: seconds per extra point (beyond the 3 the fit includes) per E² m, from 2-3-2 with 3, 10 and 30 points
NUMERIC_SECONDS = 2.0e-4

#: The default time budget of `symgrad verify` (`--max-seconds`).
DEFAULT_MAX_SECONDS = 60.0


def proved_entries(sizes: Sequence[int]) -> int:
    """$E = \\sum_l n_l (n_{l-1} + 2)$: the scalar identities a proof checks (every $w$, $b$, $\\delta^l_j$)."""
    return sum(n_out * (n_in + 2) for n_in, n_out in zip(sizes, sizes[1:]))


def estimate_seconds(sizes: Sequence[int], activation: str = "sigmoid", output: str | None = None, *,
                     batch: int = 1, points: int = 3) -> float:
    """The predicted wall time in seconds of `verify_bp(sizes, activation, ..., batch=batch, points=points)`.

    $t \\approx c (E m)^{\\alpha} (E^{\\beta} / D)^{L - 2} f + c_{\\text{num}} (p - 3) E^2 m$, with the
    coefficients of this module (measured; see docs/verification.md).
    """
    e = proved_entries(sizes)
    layers = len(sizes) - 1
    mixed = MIXED_ACTIVATIONS if output is not None and output != activation else 1.0
    proof = PROOF_SECONDS * (e * batch) ** ENTRY_EXPONENT * (e ** DEPTH_EXPONENT / DEPTH_DIVISOR) ** (layers - 2) * mixed
    return proof + NUMERIC_SECONDS * max(points - 3, 0) * e * e * batch

def check_budget(sizes: Sequence[int], activation: str = "sigmoid", output: str | None = None, *,
                 batch: int = 1, points: int = 3, max_seconds: float = DEFAULT_MAX_SECONDS) -> float:
    """Refuse (`UsageError`, naming `--max-seconds`) a proof predicted to take more than `max_seconds`.

    Returns the prediction when it fits. Runs nothing: the figure comes from `estimate_seconds`.
    """
    if not max_seconds > 0:
        raise UsageError(f"--max-seconds must be positive, got {max_seconds}", arg="max_seconds")
    predicted = estimate_seconds(sizes, activation, output, batch=batch, points=points)
    if predicted > max_seconds:
        what = "-".join(map(str, sizes)) + (f", batch {batch}" if batch > 1 else "") + f", {points} points"
        raise UsageError(
            f"an exact proof of {what} is predicted to take {_duration(predicted)}, over the budget of "
            f"{_duration(max_seconds)} (raise it with --max-seconds {_ceil_seconds(predicted)}, or lower "
            f"--points/--batch or the network)", arg="max_seconds")
    return predicted


def _ceil_seconds(s: float) -> int:
    return int(-(-s // 1))


def _duration(s: float) -> str:
    if s < 120:
        return f"~{s:.0f} s"
    if s < 7200:
        return f"~{s / 60:.0f} min"
    return f"~{s / 3600:.1f} h"
