#!/usr/bin/env bash
# Where does the time go on this machine? Run on the robot itself (e.g. a Raspberry Pi).
# Extra arguments go to rtcbot-latency, e.g.: examples/profile_latency.sh --seconds 2
set -euo pipefail
out=${OUT:-.}
# 1. The transport alone, against the baselines, at two frame sizes (synthetic camera: no hardware).
rtcbot-latency --compare --size vga,1080p --json "$out/transport.json" --plot "$out/transport.png" "$@"
# 2. More subscribers, and one that stalls: does anyone else notice?
rtcbot-latency --size vga --subscribers 1,4 --slow "$@"
# 3. Your camera, if there is one (its capture and decoding are part of the figures).
if [ -e /dev/video0 ]; then rtcbot-latency --source 0 --size vga "$@"; fi
