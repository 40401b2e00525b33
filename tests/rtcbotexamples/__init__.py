"""RTCBot 0.2.5's own example programs, from its published sdist, run unchanged (issue 20)."""
