"""Single-request latency as a function of the GPU clock.

Model: ``L(f) = S (1 - s + s F_max / f)``. The share ``s`` of the work at the
maximum clock (the partition's *sensitivity*) is compute-bound and scales
with 1/f; the rest (memory- and I/O-bound) does not. Sources, Qiu, UIUC
dissertation 2024 (μ-Serve):

- Shape, Sec. 6.2.2 (Fig. 6.2): "latency-frequency curves of all models
  exhibit a steep decline at low frequencies, but the decrease rate
  eventually approaches a horizontal asymptote at high frequencies": a
  constant plus a 1/f term, as here.
- Scale, Sec. 6.3.1: the sensitivity score is ΔLatency/ΔFrequency, the
  normalised latency increase when the clock drops from the default to half
  of it over the normalised frequency drop (1/2). Under this model that
  increase is ``s``, so score = 2 s (:func:`sensitivity_score`); Sec. 6.4.4
  calls operators with a score below 1 insensitive, i.e. ``s < 0.5``.
- GPT2-large, Sec. 6.2.2 with Table 6.1: 832 ms at the maximum clock, and it
  "can meet the SLO (1000 ms) even when the GPU frequency is reduced from
  1300 MHz to 800 MHz", so ``s <= (1000/832 - 1) / (1300/800 - 1)``, about
  0.32 (:data:`GPT2_LARGE_MAX_SENSITIVITY`).

Alg. 6.3's degradation estimate ``weight * latency * STEP / freq`` is this
model's first-order latency increase for one STEP down when ``weight`` is
``s`` and ``latency`` is the service time at ``freq``: it ignores queueing.
"""

from __future__ import annotations

GPT2_LARGE_MS_AT_MAX = 832.0  # Table 6.1
GPT2_LARGE_SLO_MS = 1000.0  # Sec. 6.2.2
GPT2_LARGE_CLOCKS_MHZ = (1300.0, 800.0)  # Sec. 6.2.2: still within SLO at 800
GPT2_LARGE_MAX_SENSITIVITY = (GPT2_LARGE_SLO_MS / GPT2_LARGE_MS_AT_MAX - 1.0) / (
    GPT2_LARGE_CLOCKS_MHZ[0] / GPT2_LARGE_CLOCKS_MHZ[1] - 1.0
)
INSENSITIVE_SCORE = 1.0  # Sec. 6.4.4: "sensitivity scores less than 1"


def service_ms(
    service_ms_at_max: float, sensitivity: float, clock_mhz: float, max_mhz: float
) -> float:
    """Single-request latency (ms) at ``clock_mhz``."""
    return service_ms_at_max * (1.0 - sensitivity + sensitivity * max_mhz / clock_mhz)


def sensitivity_score(sensitivity: float) -> float:
    """μ-Serve's score (Sec. 6.3.1) of a partition with share ``sensitivity``:
    the latency increase at half the maximum clock (normalised) over 1/2."""
    return (service_ms(1.0, sensitivity, 0.5, 1.0) - 1.0) / 0.5
