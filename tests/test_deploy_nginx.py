"""docs/deploy.md's nginx block, run as written in front of the real server: TLS, WebSockets, polling."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import socketio

from tests.support import ROOT, Shopper, free_port

NGINX = "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not os.access(NGINX, os.X_OK),
                                reason="nginx is not installed: run scripts/ensure-services")


def documented_site() -> str:
    """The ```nginx block of docs/deploy.md."""
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    return re.search(r"```nginx\n(.*?)```", text, re.S).group(1)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "support.example-shop.com")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def proxy(server):
    """nginx with the documented site in front of the shared server; yields (https URL, http URL)."""
    directory = Path(tempfile.mkdtemp(prefix="crossdesk-nginx-"))
    cert, key = self_signed(directory)
    http_port, https_port = free_port(), free_port()
    site = documented_site()
    for documented, ours in [
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("server 127.0.0.1:5005;", f"server 127.0.0.1:{server.port};"),
        ("/etc/letsencrypt/live/support.example-shop.com/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/support.example-shop.com/privkey.pem", str(key)),
    ]:
        assert documented in site, documented
        site = site.replace(documented, ours)
    temp = "\n".join(f"    {kind}_temp_path {directory / kind};" for kind in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (directory / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\npid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'};\n"
        f"events {{}}\nhttp {{\n    access_log off;\n{temp}\n{site}\n}}\n")
    process = subprocess.Popen([NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf"),
                                "-g", "daemon off;"], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {process.stderr.read().decode()}")
            time.sleep(0.1)
    yield f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}"
    process.terminate()
    process.wait(15)
    shutil.rmtree(directory, ignore_errors=True)


def get(url: str, **headers):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    request = urllib.request.Request(url, headers=headers)
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), NoRedirect())
    try:
        with opener.open(request, timeout=10) as reply:
            return reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


async def close_http(client: socketio.AsyncClient) -> None:
    """Close the aiohttp session engine.io leaves open after a disconnect (else TLS errors at exit).

    Its polling read loop may start one more request after the disconnect, in a new session.
    """
    for task in (client.eio.read_loop_task, client.eio.write_loop_task):
        if task is not None:
            await asyncio.wait_for(task, 30)
    if client.eio.http is not None and not client.eio.http.closed:
        await client.eio.http.close()
    await asyncio.sleep(0.1)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


async def test_shoppers_chat_through_the_documented_tls_proxy_over_websocket_and_polling(proxy):
    https, http = proxy
    status, headers, _ = get(http + "/widget/crossdesk.js")
    assert status == 301 and headers["Location"].startswith("https://")
    status, headers, body = get(https + "/widget/crossdesk.js", **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip" and headers["ETag"]
    assert gzip.decompress(body) == (ROOT / "widget" / "crossdesk.js").read_bytes()
    assert get(https + "/widget/crossdesk.js", **{"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]})[0] == 304

    shopper = Shopper(https)
    shopper.client.eio.ssl_verify = False  # (the throwaway certificate)
    await shopper.connect()  # WebSocket upgrade through nginx (wss://)
    assert (await shopper.ask("hello"))["text"]
    await shopper.close()
    await close_http(shopper.client)

    polling = socketio.AsyncClient(reconnection=False, ssl_verify=False)
    confirmed = []
    polling.on("session_confirm", confirmed.append)
    await polling.connect(https, transports=["polling"])  # long-polling through nginx
    await polling.emit("session_request", {"session_id": None})
    for _ in range(100):
        if confirmed:
            break
        await polling.sleep(0.1)
    assert confirmed and polling.transport() == "polling"
    await polling.disconnect()
    await close_http(polling)
