"""`reelrank worker`: run a generation worker against a data home until told to stop.

SIGTERM and SIGINT stop it cleanly: the job in hand is finished or handed back to the queue.
Progress is logged to stderr; the outcome counts are printed to stdout as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from features.embeddings import Embedder, HashingEmbedder, load_embedder
from generation.worker import run_worker
from reelrank.errors import ReelrankError
from reelrank.home import DataHome

__all__ = ["worker_main"]

# Generated items share the catalog's embedding space, whose model is 384-wide; the hashing
# stand-in matches that width so its vectors fit the same indexes.
HASHING_DIM = 384


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelrank worker", description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=None,
                        help="data home directory (default: $REELRANK_HOME, else ./.reelrank)")
    parser.add_argument("--once", action="store_true",
                        help="exit when no job is claimable instead of waiting for more")
    parser.add_argument("--embedder", choices=("model", "hashing", "none"), default="model",
                        help="prompt embeddings: the configured sentence-transformers model "
                        "(default), a fast hashing stand-in (tests), or none (stored as NULL)")
    parser.add_argument("--poll-s", type=_positive_float, default=1.0,
                        help="seconds between queue polls while idle (default 1)")
    parser.add_argument("--worker-id", default=None,
                        help="lease owner name (default: host:pid:random)")
    return parser


def _embedder(kind: str, home: DataHome) -> Embedder | None:
    if kind == "hashing":
        return HashingEmbedder(HASHING_DIM)
    if kind == "model":
        return load_embedder(home.settings, home.dir("models"))
    return None


def worker_main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("signal %d: stopping after the current job", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        home = DataHome.open(args.home)
        outcomes = run_worker(home, once=args.once, poll_s=args.poll_s,
                              embedder=_embedder(args.embedder, home), worker_id=args.worker_id,
                              stop=stop)
    except ReelrankError as exc:
        print(f"reelrank worker: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(outcomes, sort_keys=True), flush=True)
    return 0
