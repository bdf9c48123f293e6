"""Photos and files: JPEG, PNG and WebP images and PDFs that shoppers and agents attach to a conversation.

A file is accepted for what its bytes are, never for its name or the type the
client claims: the first bytes must be a JPEG, PNG, WebP or PDF signature, and
an image must also decode completely with Pillow (as the format its signature
says). An SVG or an HTML page renamed ``.png`` has no such signature and is
refused (``unsupported_type``). Files are kept under ``var/uploads`` (outside
every served folder) under a random name without extension, and are served by
:func:`setup_attachments`'s route only, with the sniffed type,
``X-Content-Type-Options: nosniff``, a ``Content-Disposition`` and
``Content-Security-Policy: sandbox``: nothing a shopper sends ever runs as a page.

Who may read a file: the conversation's shopper, through a per-file key derived
from their session id (``key``: a capability in the URL, since an ``<img>`` on a
storefront cannot send a header), and agents the read policy lets read the
conversation (their login). Anyone else gets 404 (never "exists but forbidden").

An attachment is also a message in the transcript (``data.file``), so it is in
the history after a reload or a restart and in the agent's bundle.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from sqlalchemy import select

from handoff.store import SQLStore
from handoff.store.sql import attachments

SIGNATURES = (  # (prefix, offset, content type); WebP is RIFF....WEBP
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"%PDF-", 0, "application/pdf"),
)
PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
THUMBNAIL_SIZE = (320, 320)
# Pillow refuses only beyond 2 x 89 M pixels; a 40 M pixel photo (a 7,700 x 5,200 camera image) is plenty,
# and decoding one takes ~160 MB of memory, checked before decoding.
MAX_PIXELS = 40_000_000
MAX_FILENAME_CHARS = 120


class AttachmentError(Exception):
    """A refused upload; ``code``, ``message`` and the HTTP ``status`` go to the client."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def sniff(data: bytes) -> Optional[str]:
    """The content type the bytes' signature says (JPEG, PNG, WebP, PDF), or None."""
    for prefix, offset, content_type in SIGNATURES:
        if data[offset:offset + len(prefix)] == prefix:
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class Checked:
    """An upload that passed: its type, size in pixels (images) and thumbnail (images)."""

    content_type: str
    width: Optional[int] = None
    height: Optional[int] = None
    thumbnail: Optional[bytes] = None
    thumbnail_type: Optional[str] = None


def check(data: bytes, max_bytes: int) -> Checked:
    """Accept a JPEG, PNG, WebP or PDF by its content; make an image's thumbnail.

    Raises:
        AttachmentError: ``empty_file``, ``file_too_large`` (413), ``unsupported_type``, ``invalid_image``.
    """
    if not data:
        raise AttachmentError("empty_file", "the file is empty")
    if len(data) > max_bytes:
        raise AttachmentError("file_too_large", f"the file is over {max_bytes} bytes", 413)
    content_type = sniff(data)
    if content_type is None:
        raise AttachmentError("unsupported_type", "only JPEG, PNG and WebP images and PDF files can be attached")
    if content_type == "application/pdf":
        return Checked(content_type)
    return _checked_image(data, content_type)


def _checked_image(data: bytes, content_type: str) -> Checked:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != PIL_FORMATS[content_type]:
                raise AttachmentError("invalid_image", "the image is not what its first bytes say")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise AttachmentError("invalid_image", f"the image is over {MAX_PIXELS} pixels")
            image.load()  # decodes everything: a truncated or corrupt image fails here
            image.thumbnail(THUMBNAIL_SIZE)
            out = io.BytesIO()
            if content_type == "image/jpeg":
                image.convert("RGB").save(out, "JPEG", quality=80)
                thumbnail_type = "image/jpeg"
            else:
                (image if image.mode in ("RGB", "RGBA", "L", "LA", "P") else image.convert("RGBA")).save(out, "PNG")
                thumbnail_type = "image/png"
    except AttachmentError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise AttachmentError("invalid_image", "the image could not be read") from None
    return Checked(content_type, width, height, out.getvalue(), thumbnail_type)


def clean_filename(name: object, content_type: str) -> str:
    """A display name: the client's, without paths or control characters, else a generic one."""
    text = name if isinstance(name, str) else ""
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(c for c in text if c.isprintable() and c not in '"<>').strip()[:MAX_FILENAME_CHARS]
    return text or ("document.pdf" if content_type == "application/pdf" else "photo")


def shopper_key(session_id: str, attachment_id: str) -> str:
    """The shopper's key to one file: only someone who knows the session id can make it."""
    return hmac.new(session_id.encode(), attachment_id.encode(), hashlib.sha256).hexdigest()[:32]


class AttachmentStore:
    """Attachment rows (``attachments``) and their bytes under ``folder``.

    Args:
        store: the conversation store.
        folder: where the bytes go (``var/uploads``); created if missing.
    """

    def __init__(self, store: SQLStore, folder: Path):
        self.store = store
        self.folder = Path(folder)

    def path(self, attachment_id: str, thumbnail: bool = False) -> Path:
        return self.folder / (attachment_id + (".thumb" if thumbnail else ""))

    def save(self, conversation_id: str, uploader: str, filename: str, data: bytes, checked: Checked) -> dict:
        """Write the bytes (and thumbnail), then the row; returns the row as a dict."""
        self.folder.mkdir(parents=True, exist_ok=True)
        attachment_id = secrets.token_hex(16)
        self.path(attachment_id).write_bytes(data)
        if checked.thumbnail:
            self.path(attachment_id, thumbnail=True).write_bytes(checked.thumbnail)
        row = {"id": attachment_id, "conversation_id": conversation_id, "message_id": None, "uploader": uploader,
               "content_type": checked.content_type, "filename": filename, "size": len(data),
               "width": checked.width, "height": checked.height, "created_at": time.time()}
        with self.store.engine.begin() as conn:
            conn.execute(attachments.insert().values(**row))
        return row

    def link(self, attachment_id: str, message_id: int) -> None:
        """Note the transcript message that shows the file."""
        with self.store.engine.begin() as conn:
            conn.execute(attachments.update().where(attachments.c.id == attachment_id).values(message_id=message_id))

    def ids_of(self, conversation_ids: list[str]) -> list[str]:
        """The files of some conversations (read before their rows are erased)."""
        if not conversation_ids:
            return []
        with self.store.engine.connect() as conn:
            return list(conn.execute(select(attachments.c.id)
                                     .where(attachments.c.conversation_id.in_(conversation_ids))).scalars())

    def remove(self, attachment_ids: list[str]) -> int:
        """Delete files (and thumbnails) from disk; how many files there were."""
        removed = 0
        for attachment_id in attachment_ids:
            for thumbnail in (False, True):
                path = self.path(attachment_id, thumbnail)
                if path.exists():
                    path.unlink()
                    removed += not thumbnail
        return removed

    def get(self, attachment_id: str) -> Optional[dict]:
        """The row, or None."""
        with self.store.engine.connect() as conn:
            row = conn.execute(select(attachments).where(attachments.c.id == attachment_id)).first()
        return dict(row._mapping) if row else None


def file_payload(row: dict, session_id: str) -> dict:
    """What a transcript message carries about its file (``data.file``): the shopper's URLs hold their key."""
    key = shopper_key(session_id, row["id"])
    payload = {"id": row["id"], "content_type": row["content_type"], "filename": row["filename"],
               "size": row["size"], "width": row["width"], "height": row["height"],
               "url": f"/api/attachments/{row['id']}?key={key}"}
    if row["content_type"].startswith("image/"):
        payload["thumbnail"] = f"/api/attachments/{row['id']}/thumbnail?key={key}"
    return payload
