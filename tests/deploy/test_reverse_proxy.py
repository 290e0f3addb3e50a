"""The production reverse proxy (issue 22), with the very site configuration
docker/ deploys (``docker/nginx/odoo.conf.template``).

Debian's nginx runs in front of a multi-worker Odoo with queue_job's runner
and our addons on a fresh database (``tests/benchmarks/stack.py``), all on
loopback, with a throw-away certificate. What is proved, through HTTPS:

1. signed Shopify deliveries are accepted and stored;
2. 50 clients sending their webhook bodies a byte at a time do not delay a
   real delivery beyond a second -- and, as a control, the same clients
   against Odoo's own port do;
3. a webhook body over 2 MiB is refused by nginx (413) before Odoo reads it;
4. forwarded headers a client forges never reach Odoo as sent: Odoo sees
   the address, host and scheme nginx saw (a server-wide test addon,
   ``addons/deploy_probe``, answers what Odoo sees), and a Host nginx does
   not serve is refused;
5. the web client's websocket opens through the proxy (101 from Odoo's
   gevent port).

Run by ``tests/run`` (``pytest -p no:odoo``: it starts its own Odoo). About
a minute here, most of it the database built from the cached template.
"""

import base64
import hashlib
import json
import os
import sys
import time

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# a var folder of its own (configs, logs, encryption key): never the main
# test database's
os.environ["MARKETPLACE_VAR_DIR"] = os.path.join(
    os.environ.get("MARKETPLACE_VAR_DIR", os.path.join(REPO_ROOT, "var")), "deploy"
)
sys.path.insert(0, REPO_ROOT)

from tests.benchmarks.stack import Sku, Stack  # noqa: E402
from tests.deploy.reverse_proxy import (  # noqa: E402
    Nginx,
    SlowClients,
    nginx_binary,
    raw_request,
)
from tests.marketplace_sim.shopify import WebhookSender  # noqa: E402

PROBE_ADDONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "addons")
DATABASE = "deploy_proxy_test"
SKUS = [Sku("DEPLOY-1"), Sku("DEPLOY-2")]
SLOW_CLIENTS = 50

pytestmark = pytest.mark.skipif(
    nginx_binary() is None, reason="nginx is not installed (apt-get install nginx)"
)


class ProbeStack(Stack):
    """The benchmark stack with the probe addon as a server-wide module."""

    def _write_config_file(self, path, *args, **kwargs):
        super()._write_config_file(path, *args, **kwargs)
        with open(path) as config:
            lines = config.read().splitlines()
        for index, line in enumerate(lines):
            if line.startswith("addons_path = "):
                lines[index] = f"{line},{PROBE_ADDONS}"
        with open(path, "w") as config:
            config.write("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def stack():
    with ProbeStack(
        stores=("a",),
        skus=SKUS,
        workers=2,
        channels="root:1,root.marketplace.inbound:1",
        database=DATABASE,
        server_wide_modules="web,queue_job,marketplace_connector,deploy_probe",
        odoo_options=["proxy_mode = True"],
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def proxy(stack):
    gevent_port = stack.options()["gevent_port"]
    with Nginx(f"127.0.0.1:{stack.port}", f"127.0.0.1:{gevent_port}") as nginx:
        yield nginx


@pytest.fixture(scope="module")
def store(stack):
    return stack.stores["a"]


def webhook_path(store):
    return "/marketplace/webhook/" + store.webhook_url.rsplit("/", 1)[1]


@pytest.fixture
def proxied_sender(store, proxy, monkeypatch):
    """A Shopify sender delivering through the proxy, trusting its
    certificate (``requests`` reads ``REQUESTS_CA_BUNDLE``)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", proxy.ca_file)
    sender = WebhookSender(
        proxy.https_url + webhook_path(store),
        store.secret,
        store.sim.shop_domain,
        workers=1,
    )
    yield sender
    sender.close()


def new_order(store):
    """An order placed on the simulated shop, not notified: the test
    delivers its webhook itself."""
    return store.sim.create_order([("DEPLOY-1", 1)], notify=False)


def stored_events(stack, order):
    return stack.sql(
        "SELECT count(*) FROM marketplace_event WHERE external_id = %s",
        (str(order["id"]),),
    )[0][0]


def test_signed_delivery_through_https_is_stored(stack, store, proxied_sender):
    order = new_order(store)
    status, _seconds = proxied_sender.deliver_once("orders/create", order)
    assert status == 200
    assert stored_events(stack, order) == 1
    # and a forged signature is still refused by Odoo behind the proxy
    status, _seconds = proxied_sender.deliver_once(
        "orders/create",
        new_order(store),
        headers_override={"X-Shopify-Hmac-Sha256": "Zm9yZ2Vk"},
    )
    assert status == 401


def test_slow_clients_do_not_delay_a_delivery_through_the_proxy(
    stack, store, proxy, proxied_sender
):
    path = webhook_path(store)
    with SlowClients(
        "localhost",
        proxy.https_port,
        path,
        count=SLOW_CLIENTS,
        ssl_context=proxy.ssl_context(),
    ) as slow:
        assert slow.wait_connected() == SLOW_CLIENTS
        time.sleep(1.5)  # a few bytes each: every Odoo worker would be taken
        order = new_order(store)
        status, seconds = proxied_sender.deliver_once("orders/create", order)
    assert status == 200
    assert seconds < 1.0, f"answered after {seconds:.2f} s behind slow clients"
    assert stored_events(stack, order) == 1

    # the control: the same clients against Odoo's own port hold its workers
    direct = WebhookSender(
        stack.url + path,
        store.secret,
        store.sim.shop_domain,
        workers=1,
        connect_timeout=3.0,
        read_timeout=3.0,
    )
    try:
        with SlowClients("127.0.0.1", stack.port, path, count=SLOW_CLIENTS) as slow:
            slow.wait_connected(timeout=3.0)
            time.sleep(1.5)
            status, seconds = direct.deliver_once("orders/create", new_order(store))
        assert status is None, (
            f"without the proxy the delivery was answered ({status}) in "
            f"{seconds:.2f} s: the slow clients did not hold Odoo's workers, "
            "so the figure through the proxy proves nothing"
        )
        # Odoo serves again once they are gone
        deadline = time.monotonic() + 30
        while True:
            status, _seconds = direct.deliver_once("orders/create", new_order(store))
            if status == 200 or time.monotonic() > deadline:
                break
        assert status == 200
    finally:
        direct.close()


def test_body_over_the_limit_is_refused_by_the_proxy(store, proxy):
    too_big = 2 * 1024 * 1024 + 1
    status, headers, body = raw_request(
        "localhost",
        proxy.https_port,
        f"POST {webhook_path(store)} HTTP/1.1\r\n"
        f"Host: localhost:{proxy.https_port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {too_big}",
        ssl_context=proxy.ssl_context(),
    )
    # the body was never sent: Odoo would have waited for it; and Odoo's
    # own 413 is text/plain "payload too large"
    assert status == 413
    assert headers.get("server", "").startswith("nginx")
    assert b"payload too large" not in body
    # a 2 MiB body (the backend's default limit) passes nginx: Odoo answers
    status, headers, body = raw_request(
        "localhost",
        proxy.https_port,
        f"POST {webhook_path(store)} HTTP/1.1\r\n"
        f"Host: localhost:{proxy.https_port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {too_big - 1}\r\n"
        "Connection: close",
        body=b" " * (too_big - 1),
        ssl_context=proxy.ssl_context(),
    )
    # unsigned: refused by Odoo (400 or 401), not by the proxy
    assert status in (400, 401), (status, body[:200])


def test_forged_forwarded_headers_do_not_reach_odoo(proxy):
    forged = {
        "X-Forwarded-For": "203.0.113.66",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Port": "8443",
        "X-Forwarded-Prefix": "/evil",
        "X-Real-IP": "203.0.113.67",
        "Forwarded": "for=203.0.113.68;host=evil.example;proto=http",
    }
    head = "\r\n".join(
        [
            "GET /deploy_probe/whoami HTTP/1.1",
            f"Host: localhost:{proxy.https_port}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in forged.items()),
        ]
    )
    status, _headers, body = raw_request(
        "localhost", proxy.https_port, head, ssl_context=proxy.ssl_context()
    )
    assert status == 200, body
    seen = json.loads(body)
    assert seen["remote_addr"] == "127.0.0.1"
    assert seen["scheme"] == "https"
    assert seen["host_url"] == "https://localhost/"
    assert seen["headers"] == {
        "X-Forwarded-For": "127.0.0.1",
        "X-Forwarded-Host": "localhost",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": None,
        "X-Forwarded-Prefix": None,
        "X-Real-IP": "127.0.0.1",
        "Forwarded": None,
    }
    # a host name nginx does not serve is refused, not passed on
    status, _headers, _body = raw_request(
        "localhost",
        proxy.https_port,
        "GET /deploy_probe/whoami HTTP/1.1\r\nHost: evil.example\r\nConnection: close",
        ssl_context=proxy.ssl_context(),
    )
    assert status == 421


def test_websocket_opens_through_the_proxy(proxy):
    key = base64.b64encode(os.urandom(16)).decode()
    head = "\r\n".join(
        [
            "GET /websocket?version=18.0 HTTP/1.1",
            f"Host: localhost:{proxy.https_port}",
            f"Origin: {proxy.https_url}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
    )
    status, headers, _body = raw_request(
        "localhost", proxy.https_port, head, ssl_context=proxy.ssl_context(), timeout=5
    )
    assert status == 101
    accept = hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()
    ).digest()
    assert headers["sec-websocket-accept"] == base64.b64encode(accept).decode()
    assert headers["upgrade"].lower() == "websocket"
