"""Static files (widget, console, favicon): gzip, ETag and cache headers.

Each file is read and gzip-compressed once per version (its mtime and size),
then served from memory: ``crossdesk.js`` is 38 KB as written and ~12 KB
gzipped. The encoding follows ``Accept-Encoding`` (``Vary`` says so); each
representation has its own strong ``ETag``, and ``If-None-Match`` gets a 304.
Brotli would save a little more, but no pinned package provides it.

Cache policy: the widget is embedded by storefronts at a fixed URL, so
browsers may keep it 5 minutes (``max-age=300``) and then revalidate (a 304
costs no body); a new version reaches every shopper within 5 minutes. The
console revalidates every time (``no-cache``): after an upgrade its code must
match the server's API at once. The favicon never changes in practice (a day).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import unquote

from sanic import Sanic, response

from handoff.api import error_response
from crossdesk.paths import CONSOLE_DIR, WIDGET_DIR

WIDGET_CACHE = "public, max-age=300"
CONSOLE_CACHE = "no-cache"
FAVICON_CACHE = "public, max-age=86400"
FAVICON = CONSOLE_DIR / "favicon.ico"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".ico": "image/x-icon",
          ".json": "application/json", ".txt": "text/plain; charset=utf-8"}
_COMPRESSIBLE = {".js", ".css", ".html", ".svg", ".ico", ".json", ".txt", ".map", ".LICENSE"}
_MIN_GZIP_BYTES = 256  # below this the gzip header eats the saving


@dataclass(frozen=True)
class _Version:
    """One file version in memory: its bytes, gzipped bytes (or None) and ETag."""

    stamp: tuple[int, int]  # (mtime_ns, size)
    body: bytes
    gzipped: Optional[bytes]
    etag: str
    content_type: str


class StaticFiles:
    """The files under one directory, served from memory.

    Args:
        root: the directory.
        cache_control: the ``Cache-Control`` header of every response.
    """

    def __init__(self, root: Path, cache_control: str):
        self.root = root.resolve()
        self.cache_control = cache_control
        self._versions: dict[Path, _Version] = {}

    def resolve(self, relative: str) -> Optional[Path]:
        """The file a URL path names, or None (outside the root, hidden, a directory, odd characters)."""
        relative = unquote(relative)
        parts = relative.split("/")
        if not relative or "\x00" in relative or "\\" in relative or any(
                not part or part.startswith(".") for part in parts):
            return None
        try:
            path = (self.root / relative).resolve()
            if not path.is_relative_to(self.root) or not path.is_file():
                return None
        except OSError:  # e.g. a name longer than the file system allows
            return None
        return path

    def version(self, path: Path) -> _Version:
        """The file's current version, read and compressed only when it changed."""
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        known = self._versions.get(path)
        if known is not None and known.stamp == stamp:
            return known
        body = path.read_bytes()
        gzipped = None
        if self._compressible(path) and len(body) >= _MIN_GZIP_BYTES:
            gzipped = gzip.compress(body, compresslevel=9, mtime=0)
            if len(gzipped) >= len(body):
                gzipped = None
        content_type = (_TYPES.get(path.suffix)
                        or mimetypes.guess_type(path.name)[0] or "application/octet-stream")
        version = _Version(stamp, body, gzipped, hashlib.sha256(body).hexdigest()[:20], content_type)
        self._versions[path] = version
        return version

    @staticmethod
    def _compressible(path: Path) -> bool:
        return path.suffix in _COMPRESSIBLE

    def respond(self, request, path: Optional[Path]):
        """200 with the file (gzipped when accepted), 304 when the client's copy is current, else 404."""
        if path is None:
            return error_response(404, "not_found", f"no such file: {request.path}")
        version = self.version(path)
        use_gzip = version.gzipped is not None and accepts_gzip(request.headers.get("accept-encoding", ""))
        etag = f'"{version.etag}-gz"' if use_gzip else f'"{version.etag}"'
        headers = {"ETag": etag, "Cache-Control": self.cache_control}
        if version.gzipped is not None:
            headers["Vary"] = "Accept-Encoding"
        if etag_matches(request.headers.get("if-none-match", ""), etag):
            return response.empty(status=304, headers=headers)
        body = version.gzipped if use_gzip else version.body
        if use_gzip:
            headers["Content-Encoding"] = "gzip"
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(body))
            return response.raw(b"", headers=headers, content_type=version.content_type)
        return response.raw(body, headers=headers, content_type=version.content_type)


def accepts_gzip(header: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip;q=0`` refuses it)."""
    allowed = None
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name == "gzip":
            return quality > 0
        if name == "*":
            allowed = quality > 0
    return bool(allowed)


def etag_matches(header: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` value names ``etag`` (weak comparison, as RFC 9110 asks for it)."""
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def setup_static(app: Sanic) -> None:
    """``/widget/*``, ``/console/static/*`` and ``/favicon.ico``."""
    widget = StaticFiles(WIDGET_DIR, WIDGET_CACHE)
    console = StaticFiles(CONSOLE_DIR, CONSOLE_CACHE)
    favicon = StaticFiles(FAVICON.parent, FAVICON_CACHE)

    @app.route("/widget/<path:path>", methods=["GET", "HEAD"], name="widget_file")
    async def widget_file(request, path: str):
        return widget.respond(request, widget.resolve(path))

    @app.route("/console/static/<path:path>", methods=["GET", "HEAD"], name="console_file")
    async def console_file(request, path: str):
        return console.respond(request, console.resolve(path))

    @app.route("/favicon.ico", methods=["GET", "HEAD"], name="favicon")
    async def favicon_file(request):
        return favicon.respond(request, favicon.resolve(FAVICON.name))
