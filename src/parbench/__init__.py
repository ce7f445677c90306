"""parbench: re-runs the 2019 Ray post's benchmarks and checks its claims."""

__version__ = "0.1.0"
