"""What the microphone hears, played on the speaker (use headphones!).

Run: .venv/bin/python examples/mic_to_speaker.py [--synthetic] [--seconds N]
--synthetic plays a chirp from a synthetic microphone instead. The speaker keeps its
latency bounded even if the two sound cards' clocks drift apart. Runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from rtcbot import Microphone, Speaker, SyntheticMicrophone


async def main(synthetic: bool, seconds: float | None) -> None:
    microphone = SyntheticMicrophone(chirpTo=880) if synthetic else Microphone(channels=1)
    speaker = Speaker()
    speaker.putSubscription(microphone)
    try:
        await asyncio.wait_for(speaker.onClose(), seconds)  # closes on an error, e.g. no device
    except TimeoutError:
        pass
    finally:
        microphone.close()
        speaker.close()
        await asyncio.gather(microphone, speaker)
        print(f"microphone: {microphone.audioStatus}\nspeaker: {speaker.audioStatus}")
    if microphone.error or speaker.error:
        raise SystemExit(f"stopped: {microphone.error or speaker.error}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", action="store_true", help="a synthetic chirp instead of a microphone")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: run until Ctrl-C)")
    arguments = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(arguments.synthetic, arguments.seconds))
