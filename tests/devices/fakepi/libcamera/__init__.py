"""FAKE libcamera for tests (see ../README.md): only Transform."""


class Transform:
    def __init__(self, hflip: int = 0, vflip: int = 0) -> None:
        self.hflip, self.vflip = hflip, vflip
