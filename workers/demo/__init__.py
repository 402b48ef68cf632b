"""The built-in demo: a local outlet farm on 127.0.0.1 with fixture pages and their expected results."""

from workers.demo.farm import Farm

__all__ = ["Farm"]
