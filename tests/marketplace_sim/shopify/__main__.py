"""``python -m marketplace_sim.shopify serve --port 8071 --shop demo.myshopify.com
--token shpat_demo``: run a simulator in the foreground until SIGTERM/SIGINT,
driven through its ``/_sim/`` control surface."""

import argparse
import logging
import signal
import threading

from .simulator import ShopifySimulator
from .webhooks import RETRY_DELAYS


def _parser():
    parser = argparse.ArgumentParser(prog="python -m marketplace_sim.shopify")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a simulated shop")
    serve.add_argument("--port", type=int, default=8071)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--shop", default="demo.myshopify.com")
    serve.add_argument("--token", default="shpat_demo")
    serve.add_argument("--plan", default="standard")
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument(
        "--visible-days", type=int, default=60, help="0: every order is visible"
    )
    serve.add_argument("--log-level", default="INFO")
    return parser


def serve(args):
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stop.set())
    sim = ShopifySimulator(
        shop_domain=args.shop,
        access_token=args.token,
        plan=args.plan,
        seed=args.seed,
        visible_days=args.visible_days or None,
    )
    sim.start(port=args.port, host=args.host)
    logging.getLogger(__name__).info(
        "serving %s at %s (control: %s/_sim/stats; webhook retries %s s)",
        args.shop,
        sim.url,
        sim.url,
        RETRY_DELAYS,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
        logger = logging.getLogger(__name__)
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
