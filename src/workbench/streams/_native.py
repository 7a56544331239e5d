"""The C extension of PutRecords' per-record loops (``_speedups.c``), or None when the package
was installed without a C compiler; each caller then runs the same loop's Python twin."""

try:
    from workbench.streams import _speedups as speedups
except ImportError:
    speedups = None
