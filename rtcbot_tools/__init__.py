"""rtcbot's tools, installed as ``rtcbot_tools``: the latency profiler (the ``rtcbot-latency``
command, :mod:`.latency`), and the benchmarks it grew from (:mod:`.bench_transport`,
:mod:`.bench_camera`) with the baselines they measure against (:mod:`.baselines`)."""
