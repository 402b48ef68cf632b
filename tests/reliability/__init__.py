"""Reliability suite: faults, bad input and security against the running system."""
