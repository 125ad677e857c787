"""`reelrank serve` and `reelrank tokens`: the commands that run and open the HTTP API."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime

__all__ = ["serve", "tokens"]


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def serve(args: argparse.Namespace) -> int:
    """`reelrank serve`: the HTTP API, in one process or several."""
    # Each request ranks one user: a single FAISS query or a 300 x 384 product gains
    # nothing from more threads, and with requests in parallel, OpenMP and BLAS pools per
    # request oversubscribe the cores and spin. Read by the libraries when they load, so
    # set before anything imports numpy (an explicit setting in the environment wins).
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    import uvicorn

    from reelrank.home import DataHome

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    home = DataHome.open(args.home)
    say(f"serving {home.root} on http://{args.host}:{args.port} with {args.workers} "
         f"process(es) (docs at /docs)")
    options = {"host": args.host, "port": args.port, "log_level": args.log_level,
               "access_log": not args.no_access_log}
    if args.workers == 1:
        from api import create_app

        uvicorn.run(create_app(home), **options)
        return 0
    # Several processes: uvicorn starts each from the factory, which finds the home in the
    # environment; their metrics are summed through prometheus_client's multiprocess files.
    from api.app import multiprocess_metrics_dir

    os.environ["REELRANK_HOME"] = str(home.root)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(multiprocess_metrics_dir(home))
    uvicorn.run("api.app:create_app_from_env", factory=True, workers=args.workers, **options)
    return 0


def tokens(args: argparse.Namespace) -> int:
    """`reelrank tokens create|revoke`."""
    from reelrank.control.tokens import create_token, revoke_token
    from reelrank.home import DataHome

    home = DataHome.open(args.home)
    now = datetime.now(UTC)
    control = home.control()
    try:
        if args.verb == "create":
            scope, subject = next((s, v) for s, v in (
                ("user", args.user), ("guardian", args.guardian), ("service", args.service))
                if v is not None)
            print(create_token(control, scope, subject, now=now, label=args.label))
            return 0
        revoke_token(control, args.token, now=now)
        print("revoked")
        return 0
    finally:
        control.close()
