"""nginx in front of a local Odoo, with the site configuration of docker/.

The proxy test (``test_reverse_proxy.py``) and the slow-client benchmark
(``tests/benchmarks/slow_clients.py``) run Debian's nginx as a foreground
process of their own: its own prefix, configuration, logs and temp folders
in a temporary folder, loopback ports only. The site configuration is
``docker/nginx/odoo.conf.template``, the file the Docker image uses, with its
``${NAME}`` placeholders filled here as the nginx image's envsubst fills
them there.

Also here: a throw-away certificate (:func:`make_certificate`), clients that
send their request bodies one byte at a time (:class:`SlowClients`), and a
raw HTTP exchange over TLS or not (:func:`raw_request`).
"""

import contextlib
import datetime
import ipaddress
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SITE_TEMPLATE = os.path.join(REPO_ROOT, "docker", "nginx", "odoo.conf.template")
#: ``${NAME}`` as envsubst reads it; nginx's own variables have no braces
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")

MAIN_CONFIG = """\
# written by tests/deploy/reverse_proxy.py
daemon off;
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/client_body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/site.conf;
}}
"""


def placeholders(text):
    """The ``${NAME}`` placeholders of a template, in order of appearance,
    comments left out."""
    names = []
    for line in text.splitlines():
        if not line.lstrip().startswith("#"):
            names += PLACEHOLDER.findall(line)
    return list(dict.fromkeys(names))


def render_template(text, values):
    """Fill every ``${NAME}`` outside comments; a placeholder without a value
    is an error (envsubst would leave it empty, and nginx refuse to start)."""
    missing = [name for name in placeholders(text) if name not in values]
    if missing:
        raise KeyError(f"no value for {', '.join(missing)}")
    return "\n".join(
        line
        if line.lstrip().startswith("#")
        else PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), line)
        for line in text.splitlines()
    )


def nginx_binary():
    """Debian's nginx (``apt-get install nginx``), or None."""
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if os.access(path, os.X_OK)), None
    )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_certificate(directory, names=("localhost",), addresses=("127.0.0.1",)):
    """A self-signed certificate for ``names`` and ``addresses``, valid a
    day; returns ``(certificate path, key path)`` (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    alternative = [x509.DNSName(name) for name in names] + [
        x509.IPAddress(ipaddress.ip_address(address)) for address in addresses
    ]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "fullchain.pem")
    key_path = os.path.join(directory, "privkey.pem")
    with open(cert_path, "wb") as out:
        out.write(certificate.public_bytes(serialization.Encoding.PEM))
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    with open(os.open(key_path, flags, 0o600), "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


class Nginx:
    """nginx with the docker/ site configuration, in front of Odoo on
    loopback.

    :param http_upstream: ``host:port`` of Odoo's HTTP port.
    :param gevent_upstream: ``host:port`` of Odoo's gevent port.
    :param server_name: the host name served (``localhost``: it resolves
        here, and the certificate names it).

    ``https_url`` is the public base URL; ``ca_file`` the certificate to
    trust. A context manager: stopped (and its folder removed) on exit.
    """

    def __init__(self, http_upstream, gevent_upstream, server_name="localhost"):
        self.http_upstream = http_upstream
        self.gevent_upstream = gevent_upstream
        self.server_name = server_name
        self.https_port = free_port()
        self.http_port = free_port()
        self.https_url = f"https://{server_name}:{self.https_port}"
        self.prefix = None
        self.process = None
        self.ca_file = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *_exc):
        self.stop()

    def values(self, cert_path, key_path):
        return {
            "ODOO_HTTP_UPSTREAM": self.http_upstream,
            "ODOO_GEVENT_UPSTREAM": self.gevent_upstream,
            "NGINX_SERVER_NAME": self.server_name,
            "NGINX_HTTP_LISTEN": f"127.0.0.1:{self.http_port}",
            "NGINX_HTTPS_LISTEN": f"127.0.0.1:{self.https_port}",
            "NGINX_SSL_CERTIFICATE": cert_path,
            "NGINX_SSL_CERTIFICATE_KEY": key_path,
            "NGINX_ACME_ROOT": os.path.join(self.prefix, "acme"),
        }

    def start(self):
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx)")
        self.prefix = tempfile.mkdtemp(prefix="deploy-nginx-")
        os.chmod(self.prefix, 0o755)  # nginx's workers read under it
        user = ""
        worker = None
        if os.geteuid() == 0:
            # root starts the master; the workers run as www-data, and own
            # the folders where they buffer request bodies
            worker = _worker_user()
            user = f"user {worker.pw_name};\n"
        for folder in ("tmp", "acme", "tls"):
            os.makedirs(os.path.join(self.prefix, folder))
        for folder in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            path = os.path.join(self.prefix, "tmp", folder)
            os.makedirs(path)
            if worker is not None:
                os.chown(path, worker.pw_uid, worker.pw_gid)
        tls = os.path.join(self.prefix, "tls")
        cert_path, key_path = make_certificate(tls, names=(self.server_name,))
        self.ca_file = cert_path
        with open(SITE_TEMPLATE) as template:
            site = render_template(template.read(), self.values(cert_path, key_path))
        with open(os.path.join(self.prefix, "site.conf"), "w") as out:
            out.write(site)
        config = os.path.join(self.prefix, "nginx.conf")
        with open(config, "w") as out:
            out.write(MAIN_CONFIG.format(prefix=self.prefix, user=user))
        check = subprocess.run(
            [binary, "-t", "-q", "-p", self.prefix, "-c", config, "-e", "stderr"],
            capture_output=True,
            text=True,
        )
        if check.returncode:
            raise RuntimeError(f"nginx refuses the configuration: {check.stderr}")
        with open(os.path.join(self.prefix, "stderr.log"), "w") as stderr:
            self.process = subprocess.Popen(
                [binary, "-p", self.prefix, "-c", config, "-e", "stderr"],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited at start: {self.log_tail()}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.https_port), 0.2).close()
                return
            time.sleep(0.05)
        raise RuntimeError(f"nginx does not listen: {self.log_tail()}")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.prefix:
            shutil.rmtree(self.prefix, ignore_errors=True)
            self.prefix = None

    def log_tail(self, lines=20):
        text = ""
        for name in ("stderr.log", "error.log"):
            path = os.path.join(self.prefix, name)
            with contextlib.suppress(OSError), open(path) as log:
                text += log.read()
        return "\n".join(text.splitlines()[-lines:])

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.ca_file)


def _worker_user():
    for name in ("www-data", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("no www-data or nobody user for nginx's workers")


def open_socket(host, port, ssl_context=None, timeout=10.0):
    """A connected socket, wrapped in TLS (server name ``host``) if asked."""
    sock = socket.create_connection((host, port), timeout=timeout)
    if ssl_context is not None:
        sock = ssl_context.wrap_socket(sock, server_hostname=host)
    return sock


def raw_request(host, port, head, body=b"", ssl_context=None, timeout=10.0):
    """Send ``head`` (request line and headers, without the blank line) and
    ``body``; return ``(status, headers dict with lower-case names, body
    bytes read until the connection closes or the timeout)``.

    For what ``requests`` cannot send: a body announced but never sent, an
    upgrade."""
    with open_socket(host, port, ssl_context, timeout) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        data = b""
        with contextlib.suppress(TimeoutError, ConnectionError, ssl.SSLError):
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            sock.settimeout(1.0)
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    header_block, _sep, rest = data.partition(b"\r\n\r\n")
    lines = header_block.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/"):
        raise ConnectionError(f"no HTTP answer: {data[:200]!r}")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _colon, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


class SlowClients:
    """``count`` clients that each POST to ``path`` announcing
    ``content_length`` bytes and send them one byte every ``interval``
    seconds (under Odoo's 2-second socket timeout and nginx's 10-second
    ``client_body_timeout``), until :meth:`stop`. One thread each: against
    a server that accepts no more, a connection waits in the kernel's queue.

    ``connected`` counts the clients that sent their request head.
    """

    def __init__(
        self,
        host,
        port,
        path,
        count=50,
        ssl_context=None,
        content_length=4096,
        interval=0.5,
        host_header=None,
    ):
        self.host = host
        self.port = port
        self.path = path
        self.count = count
        self.ssl_context = ssl_context
        self.content_length = content_length
        self.interval = interval
        self.host_header = host_header or f"{host}:{port}"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = []
        self._sockets = []
        self.connected = 0
        self.errors = 0

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *_exc):
        self.stop()

    def start(self):
        for index in range(self.count):
            thread = threading.Thread(
                target=self._client, name=f"slow-client-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def wait_connected(self, timeout=10.0):
        """Until every client sent its head (or ``timeout``); returns how
        many did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.connected + self.errors < self.count:
            time.sleep(0.05)
        return self.connected

    def _client(self):
        head = (
            f"POST {self.path} HTTP/1.1\r\n"
            f"Host: {self.host_header}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {self.content_length}\r\n\r\n"
        ).encode()
        try:
            sock = open_socket(self.host, self.port, self.ssl_context, timeout=60)
        except OSError:
            with self._lock:
                self.errors += 1
            return
        with self._lock:
            self._sockets.append(sock)
        try:
            if self._stop.is_set():
                return
            sock.sendall(head)
            with self._lock:
                self.connected += 1
            for _byte in range(self.content_length - 1):  # never complete
                if self._stop.wait(self.interval):
                    break
                sock.sendall(b" ")
        except OSError:
            with self._lock:
                self.errors += 1
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    def stop(self):
        self._stop.set()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
