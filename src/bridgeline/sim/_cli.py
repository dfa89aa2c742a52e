"""Command-line pieces every simulator shares: the fault options and the FaultConfig they make."""

from __future__ import annotations

import argparse

from bridgeline.sim._faults import FaultConfig


def add_fault_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--latency-ms``, ``--latency-jitter-ms``, ``--error-rate``, ``--timeout-rate``, ``--reset-rate``,
    ``--fault-seed``: the generic faults of :class:`FaultConfig` (each simulator adds its own limits)."""
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every API call")
    parser.add_argument("--latency-jitter-ms", type=float, default=0.0, help="plus up to this much at random")
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="fraction of calls answered 500/502/503"
    )
    parser.add_argument(
        "--timeout-rate", type=float, default=0.0, help="fraction of calls that hang, then 504"
    )
    parser.add_argument("--reset-rate", type=float, default=0.0, help="fraction of connections dropped")
    parser.add_argument("--fault-seed", type=int, default=None, help="seed for the fault dice")


def faults_from_args(args: argparse.Namespace, **extra: float) -> FaultConfig:
    """The :class:`FaultConfig` the options of :func:`add_fault_arguments` describe."""
    return FaultConfig(
        latency_ms=args.latency_ms,
        latency_jitter_ms=args.latency_jitter_ms,
        error_rate=args.error_rate,
        timeout_rate=args.timeout_rate,
        reset_rate=args.reset_rate,
        seed=args.fault_seed,
        **extra,
    )
