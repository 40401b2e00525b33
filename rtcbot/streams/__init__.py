"""Named streams: a producer of one program offered to the other programs of the machine.

``producer.publish("front")`` in one program, ``rtcbot.attach("front")`` in another:
the attached program's subscribers get the publisher's Frames in the same shared memory,
with no copy. ``rtcbot serve`` publishes devices from a daemon; ``rtcbot list`` shows
what is published.
"""

from ._attached import AttachedStream, AttachedStreamStatistics, attach
from ._errors import NotAllowedToAttach, PublisherGone, StreamNameInUse
from ._names import NAME_RULE, publishedNames, streamDirectory
from ._publication import AttachedProgram, Publication, PublicationStatistics

__all__ = [
    "NAME_RULE",
    "AttachedProgram",
    "AttachedStream",
    "AttachedStreamStatistics",
    "NotAllowedToAttach",
    "Publication",
    "PublicationStatistics",
    "PublisherGone",
    "StreamNameInUse",
    "attach",
    "publishedNames",
    "streamDirectory",
]
