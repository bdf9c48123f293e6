"""A fake LibreTranslate server on 127.0.0.1, speaking the API as deep-translator calls it.

``POST /translate`` (``q``, ``source``, ``target``, ``format``, ``api_key`` in the query
string, a form or a JSON body) answers ``{"translatedText": "[<target>] <q>"}``, so tests
can assert what was translated; ``GET /languages`` lists the languages. Every request is
kept in ``received``. ``mode`` picks the behaviour: ``ok``, ``rate_limited`` (429),
``error`` (500) or ``hang`` (never answers until the server stops). ``down_url()`` is a
port where nothing listens.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import parse_qsl, urlsplit

from harness.processes import free_port

MODES = ("ok", "rate_limited", "error", "hang")
LANGUAGES = {
    "en": "English", "ar": "Arabic", "bg": "Bulgarian", "cs": "Czech", "da": "Danish", "de": "German",
    "el": "Greek", "es": "Spanish", "fa": "Persian", "fi": "Finnish", "fr": "French", "he": "Hebrew",
    "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
    "ko": "Korean", "nb": "Norwegian", "nl": "Dutch", "pl": "Polish", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "sv": "Swedish", "th": "Thai", "tr": "Turkish",
    "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "zh": "Chinese", "zt": "Chinese (traditional)",
}
"""As a self-hosted LibreTranslate (Argos models) names them."""
HANG_LIMIT = 30.0
"""A hanging request is released after this many seconds even if the server is never stopped."""


def fake_translation(text: str, target: str) -> str:
    """What the fake answers: the text, tokens and all, marked with the target language."""
    return f"[{target}] {text}"


def down_url() -> str:
    """A LibreTranslate URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/"


class _Handler(BaseHTTPRequestHandler):
    server: "_HTTPServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # noqa: A002 - quiet test output
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if urlsplit(self.path).path.rstrip("/") != "/languages":
            return self._reply(404, {"error": "Not Found"})
        self._reply(200, [{"code": code, "name": name, "targets": sorted(LANGUAGES)}
                          for code, name in LANGUAGES.items()])

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
        params = {**dict(parse_qsl(url.query)), **_body_params(body, self.headers.get("Content-Type", ""))}
        self.server.fake.record({"method": "POST", "path": self.path, "body": body, "params": params})
        if url.path.rstrip("/") != "/translate":
            return self._reply(404, {"error": "Not Found"})
        self._answer(params)

    def _answer(self, params: dict) -> None:
        fake = self.server.fake
        mode = fake.mode
        if mode == "hang":
            fake.stopping.wait(HANG_LIMIT)
            self.close_connection = True
            return
        if mode == "rate_limited":
            return self._reply(429, {"error": "Slowdown: 10 per 1 minute"})
        if mode == "error":
            return self._reply(500, {"error": "Internal Server Error"})
        for field in ("source", "target"):
            if params.get(field) not in LANGUAGES and not (field == "source" and params.get(field) == "auto"):
                return self._reply(400, {"error": f"{params.get(field)} is not supported"})
        if not params.get("q"):
            return self._reply(400, {"error": "Invalid request: missing q parameter"})
        known = fake.phrasebook.get((params["target"], params["q"]))
        self._reply(200, {"translatedText": known or fake_translation(params["q"], params["target"])})

    def _reply(self, status: int, payload) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _body_params(body: str, content_type: str) -> dict:
    if not body:
        return {}
    if "json" in content_type:
        try:
            data = json.loads(body)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return dict(parse_qsl(body))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: "FakeLibreTranslate"


class FakeLibreTranslate:
    """The fake server; ``start()`` it (or use it as a context manager), then ``stop()``."""

    def __init__(self, mode: str = "ok", phrasebook: Optional[dict] = None):
        self.mode = mode
        self.phrasebook = dict(phrasebook or {})  # (target, text) -> a real translation
        self.received: list[dict] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server: Optional[_HTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self._mode = mode

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def translate_requests(self) -> list[dict]:
        """Requests to ``/translate`` so far."""
        with self._lock:
            return [r for r in self.received if urlsplit(r["path"]).path.rstrip("/") == "/translate"]

    def seen(self, needle: str) -> bool:
        """Whether ``needle`` arrived in any request (path, query or body)."""
        with self._lock:
            return any(needle in r["path"] or needle in r["body"] or needle in json.dumps(r["params"],
                       ensure_ascii=False) for r in self.received)

    def record(self, request: dict) -> None:
        with self._lock:
            self.received.append(request)

    def start(self) -> "FakeLibreTranslate":
        self._server = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-libre",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and release hanging requests."""
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)

    def __enter__(self) -> "FakeLibreTranslate":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
