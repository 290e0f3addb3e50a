"""``python -m marketplace_sim.amazon serve --port 8072 --seller A1DEMO
--marketplace ATVPDKIKX0DER``: run a simulator in the foreground until
SIGTERM/SIGINT, driven through its ``/_sim/`` control surface."""

import argparse
import logging
import signal
import threading

from .simulator import AmazonSimulator


def _parser():
    parser = argparse.ArgumentParser(prog="python -m marketplace_sim.amazon")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a simulated Amazon seller")
    serve.add_argument("--port", type=int, default=8072)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--seller", default="A1SIMSELLER0001")
    serve.add_argument(
        "--marketplace", action="append", help="repeat for several (default US)"
    )
    serve.add_argument("--client-id", default="amzn1.application-oa2-client.sim")
    serve.add_argument("--client-secret", default="sim-client-secret")
    serve.add_argument("--refresh-token", default="Atzr|sim-refresh-token")
    serve.add_argument("--time-scale", type=float, default=1.0)
    serve.add_argument("--visibility-lag", type=float, default=0.0)
    serve.add_argument("--listing-delay", type=float, default=0.0)
    serve.add_argument("--max-receive-count", type=int, default=None)
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument("--log-level", default="INFO")
    return parser


def serve(args):
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stop.set())
    sim = AmazonSimulator(
        seller_id=args.seller,
        marketplace_ids=args.marketplace or ["ATVPDKIKX0DER"],
        client_id=args.client_id,
        client_secret=args.client_secret,
        refresh_token=args.refresh_token,
        time_scale=args.time_scale,
        seed=args.seed,
        max_receive_count=args.max_receive_count,
    )
    sim.visibility_lag = args.visibility_lag
    sim.listing_delay = args.listing_delay
    sim.start(port=args.port, host=args.host)
    logger = logging.getLogger(__name__)
    logger.info(
        "serving seller %s at %s (LWA %s, SQS queue %s, control %s/_sim/stats)",
        args.seller,
        sim.url,
        sim.lwa_url,
        sim.queue_url,
        sim.url,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
        logger.info("stopped; %s", sim.stats)
        if sim.internal_errors:
            logger.error("%d internal errors", len(sim.internal_errors))


def main(argv=None):
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "serve":
        serve(args)


if __name__ == "__main__":
    main()
