"""The shared-memory transport between a process and its children.

Arrays travel through rings of slots in anonymous shared memory (:mod:`.ring`,
:mod:`.segment`); the announcements and everything else travel as messages over a socket
(:mod:`.protocol`, :mod:`.channel`). A delivered array is a :class:`Frame`.
"""

from .frame import Frame

__all__ = ["Frame"]
