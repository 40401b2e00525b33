"""The user attributes of a process object on their way into its child.

Under ``fork`` the child simply inherits them. Under ``spawn`` and ``forkserver``,
multiprocessing pickles the ``Process`` and its arguments while it is starting the child
(its "spawning context"): only then may a ``multiprocessing.Queue``, ``Lock``, ``Event``,
``Value``, ``Array`` or ``Connection`` be pickled, and their file descriptors travel with
the child. :class:`ChildState` pickles the attributes at that moment, with multiprocessing's
own pickler, so everything a ``Process`` can be given works as an attribute too; what
still cannot be sent is a ``TypeError`` naming the attribute.
"""

from __future__ import annotations

import pickle
import threading
from multiprocessing.reduction import ForkingPickler
from typing import Any

from ._mainmodule import importMainInChild, mainPreparation


class ChildState:
    """A process object's class and the attributes its child gets."""

    def __init__(self, cls: type[Any], attributes: dict[str, Any], startMethod: str) -> None:
        self.cls = cls
        self._attributes: dict[str, Any] | None = attributes
        self._pickled: bytes | None = None
        self._startMethod = startMethod
        #: Set once multiprocessing has pickled the state (or failed to: ``pickleError``).
        self.pickled = threading.Event()
        self.pickleError: BaseException | None = None

    def attributes(self) -> dict[str, Any]:
        """The attributes; in a spawned child, unpickled on first use (so a failure there
        is reported through the object, like any error in its child)."""
        if self._attributes is None:
            assert self._pickled is not None
            self._attributes = pickle.loads(self._pickled)
        return self._attributes

    def checkClass(self) -> None:
        """Raises a TypeError if a spawned or forkserver child could not import the class
        by name (a forked child needs no import)."""
        if self._startMethod == "fork":
            return
        try:
            pickle.dumps(self.cls)
        except Exception as exc:
            raise TypeError(
                f"{self.cls.__qualname__} cannot run in a child process under the "
                f"{self._startMethod!r} start method: the class must be importable by name "
                f"(define it at module level) ({exc})"
            ) from None

    def __reduce__(self) -> tuple[Any, ...]:
        # Called by multiprocessing while it pickles the Process in its spawning context.
        try:
            return self._reduced()
        except BaseException as error:
            self.pickleError = error
            raise
        finally:
            self.pickled.set()

    def _reduced(self) -> tuple[Any, ...]:
        attributes = self.attributes()
        try:
            pickled = bytes(ForkingPickler.dumps(attributes, pickle.HIGHEST_PROTOCOL))
        except Exception:
            self._raiseForFirstUnpicklable(attributes)
            raise
        main = mainPreparation() if b"__main__" in pickled else {}  # something defined there
        return (_fromPickled, (self.cls, pickled, self._startMethod, main))

    def _raiseForFirstUnpicklable(self, attributes: dict[str, Any]) -> None:
        for name, value in attributes.items():
            try:
                ForkingPickler.dumps(value, pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                raise TypeError(
                    f"{self.cls.__qualname__}.{name} ({type(value).__name__}) cannot be sent to "
                    f"the child process under the {self._startMethod!r} start method: it does not "
                    f"pickle ({exc}). Create it inside the work method instead, make it "
                    "picklable, or use startMethod='fork'."
                ) from None


def _fromPickled(cls: type[Any], pickled: bytes, startMethod: str, main: dict[str, Any]) -> ChildState:
    importMainInChild(main)
    state = ChildState(cls, {}, startMethod)
    state._attributes = None
    state._pickled = pickled
    return state
