"""gfvideo: glance-and-focus video recognition with measured compute."""

__version__ = "0.1.0"
