"""Command-line pieces every simulator shares: the fault options and the FaultConfig they make,
and how to serve https:// (a certificate of one's own, or ``--https``: one made at start)."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bridgeline.sim._faults import FaultConfig
from bridgeline.sim._tls import TLSError, make_tls_files


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


def add_tls_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cert_flags: tuple[str, ...] = ("--tls-cert",),
    key_flags: tuple[str, ...] = ("--tls-key",),
) -> None:
    """``--tls-cert``/``--tls-key`` (files of one's own), or ``--https`` [``--tls-dir``]."""
    parser.add_argument(*cert_flags, dest="tls_cert", help="certificate file (PEM): serve https://")
    parser.add_argument(*key_flags, dest="tls_key", help="private key file (PEM) for the certificate")
    parser.add_argument(
        "--https",
        action="store_true",
        help="serve https:// with a CA and a certificate for 127.0.0.1 and localhost made at start "
        "(needs the openssl command); prints the CA file clients should trust",
    )
    parser.add_argument(
        "--tls-dir",
        type=Path,
        help="with --https: keep the CA and certificate here and reuse them on the next start "
        "(default: a temporary folder, removed at exit)",
    )


@dataclass
class Serving:
    """How a simulator started from the command line serves: the scheme, the files for uvicorn, and
    the CA to trust when ``--https`` made one."""

    scheme: str = "http"
    certfile: str | None = None
    keyfile: str | None = None
    ca: Path | None = None
    _temporary: Path | None = None

    def trust_hint(self) -> str | None:
        """The line to print so that a person knows which CA file to give a client."""
        if self.ca is None:
            return None
        return (
            f"CA certificate: {self.ca}  (trust it: verify='{self.ca}' in Python clients, "
            f"or REQUESTS_CA_BUNDLE / SSL_CERT_FILE={self.ca})"
        )

    def close(self) -> None:
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)


def serving_from_args(args: argparse.Namespace) -> Serving:
    """What :func:`add_tls_arguments` asked for; raises :class:`TLSError` with what to fix."""
    if args.https and (args.tls_cert or args.tls_key):
        raise TLSError("--https makes its own certificate: leave out --tls-cert and --tls-key")
    if args.tls_dir and not args.https:
        raise TLSError("--tls-dir goes with --https")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise TLSError("--tls-cert and --tls-key go together")
    if args.tls_cert:
        return Serving("https", args.tls_cert, args.tls_key)
    if not args.https:
        return Serving()
    temporary: Path | None = None
    if args.tls_dir:
        folder = Path(args.tls_dir)
    else:
        folder = temporary = Path(tempfile.mkdtemp(prefix="bridgeline-sim-tls-"))
    try:
        files = make_tls_files(folder)
    except BaseException:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        raise
    return Serving("https", str(files.cert), str(files.key), files.ca, temporary)


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1-65535 (0: any free one), never a number the OS wraps."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 1-65535 (or 0 for any free port)")
    return port
