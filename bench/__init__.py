"""The benchmarks (transport, camera, named streams, WebRTC, liveness), run from a checkout
with ``python -m bench.NAME`` or scripts/bench*; not installed with the package."""

from pathlib import Path

#: The checkout the benchmarks run from: their child processes start there, so that
#: ``python -m bench.…`` finds this package.
CHECKOUT = Path(__file__).resolve().parents[1]
