"""Static folders (the widget, the console's files) that answer 404 for anything but a file inside them.

Sanic 21.12's static handler turns a directory (``/widget/``, ``/widget/.``),
a NUL (``/widget/%00``) or a name longer than the file system allows into a
500 with a logged traceback, and logs ``..`` paths as errors too. Requests
are checked first, with the same unquoting Sanic applies, so only a regular
file inside the folder reaches it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional
from urllib.parse import unquote

from sanic import Sanic

from handoff.api import error_response

MAX_RELATIVE_PATH = 1024


def file_inside(root: Path, file_uri: str) -> Optional[Path]:
    """The regular file ``file_uri`` names inside ``root`` (resolved), or None."""
    relative = unquote(file_uri).lstrip("/")
    if not relative or len(relative) > MAX_RELATIVE_PATH or "\x00" in relative:
        return None
    try:
        target = (root / relative).resolve()
        target.relative_to(root)
        return target if target.is_file() else None
    except (OSError, ValueError):  # too long for the file system, outside root, ...
        return None


def serve_directory(app: Sanic, uri: str, directory: Path, name: str) -> None:
    """``app.static(uri, directory)``, with requests for anything but a file in it answered ``404 not_found``."""
    root = Path(directory).resolve()
    app.static(uri, str(root), name=name)
    prefix = uri.rstrip("/") + "/"

    @app.on_request
    async def only_files(request):
        if not request.path.startswith(prefix) or "__file_uri__" not in (request.match_info or {}):
            return None
        if file_inside(root, request.match_info["__file_uri__"]) is None:
            return error_response(404, "not_found", "no such file")
        return None
