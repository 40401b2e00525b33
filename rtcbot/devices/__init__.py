"""Devices: producers and consumers of real media. Importing this loads no device library;
each device imports its own (cv2, sounddevice) when it is used."""

from .synthetic import SyntheticCamera

__all__ = ["SyntheticCamera"]
