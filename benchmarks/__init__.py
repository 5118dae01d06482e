"""lpmech benchmarks: ``python -m benchmarks [--json PATH] [--only NAME ...]``.

Speed and memory targets live here, as measured ratios printed beside the target, never as
timed unit tests (the machines are shared and noisy). Each case runs in a fresh process so
that its peak resident memory is its own.
"""
