"""Static files over real HTTP: gzip, ETag/304, cache headers, favicon, safe paths."""

from __future__ import annotations

import gzip
import http.client
import os
import time
from urllib.parse import urlparse

import pytest

from handoff.static_files import StaticFiles, accepts_gzip, etag_matches
from tests.support import ROOT

WIDGET_JS = (ROOT / "widget" / "crossdesk.js").read_bytes()


def fetch(server, path: str, method: str = "GET", **headers) -> tuple[int, dict, bytes]:
    """One request sent exactly as written (no path normalisation); (status, headers, body)."""
    connection = http.client.HTTPConnection(urlparse(server.url).netloc, timeout=10)
    try:
        connection.request(method, path, headers=headers)
        reply = connection.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        connection.close()


def test_the_widget_is_served_gzipped_to_browsers_that_accept_it_with_cache_headers(server):
    status, headers, body = fetch(server, "/widget/crossdesk.js", **{"Accept-Encoding": "gzip, deflate, br"})
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == WIDGET_JS
    assert len(body) < len(WIDGET_JS) * 0.4  # ~12 KB of ~38 KB
    assert headers["cache-control"] == "public, max-age=300"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-type"].startswith("text/javascript")
    plain_status, plain_headers, plain = fetch(server, "/widget/crossdesk.js")
    assert plain_status == 200 and "content-encoding" not in plain_headers and plain == WIDGET_JS
    assert plain_headers["etag"] != headers["etag"]  # each representation has its own validator
    refused = fetch(server, "/widget/crossdesk.js", **{"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in refused[1] and refused[2] == WIDGET_JS


def test_a_browser_with_a_current_copy_gets_304_without_a_body(server):
    _, headers, _ = fetch(server, "/widget/crossdesk.js", **{"Accept-Encoding": "gzip"})
    status, again, body = fetch(server, "/widget/crossdesk.js",
                                **{"Accept-Encoding": "gzip", "If-None-Match": headers["etag"]})
    assert status == 304 and body == b""
    assert again["etag"] == headers["etag"] and again["cache-control"] == "public, max-age=300"
    assert fetch(server, "/widget/crossdesk.js", **{"Accept-Encoding": "gzip", "If-None-Match": '"stale"'})[0] == 200
    # The gzip validator does not vouch for the uncompressed bytes.
    assert fetch(server, "/widget/crossdesk.js", **{"If-None-Match": headers["etag"]})[0] == 200


def test_console_files_are_compressed_and_revalidated_every_time(server):
    status, headers, body = fetch(server, "/console/static/console.js", **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip" and headers["cache-control"] == "no-cache"
    assert gzip.decompress(body) == (ROOT / "handoff" / "console" / "console.js").read_bytes()
    assert fetch(server, "/console/static/console.css",
                 **{"Accept-Encoding": "gzip", "If-None-Match": fetch(server, "/console/static/console.css",
                                                                         **{"Accept-Encoding": "gzip"})[1]["etag"]})[0] == 304


def test_the_favicon_is_served_and_linked_from_the_pages(server):
    status, headers, body = fetch(server, "/favicon.ico")
    assert status == 200 and headers["content-type"] == "image/x-icon" and body[:4] == b"\x00\x00\x01\x00"
    assert "max-age" in headers["cache-control"] and headers["etag"]
    assert fetch(server, "/favicon.ico", method="HEAD")[0] == 200
    for page in ("/", "/console"):
        assert b'<link rel="icon" href="/favicon.ico">' in fetch(server, page)[2]


@pytest.mark.parametrize("path", [
    "/widget/../handoff/app.py", "/widget/%2e%2e/handoff/app.py", "/widget/%2e%2e%2fhandoff%2fapp.py",
    "/widget/vendor/../../README.md", "/console/static/..%2f..%2fsettings.py", "/widget/vendor",
    "/widget/vendor/", "/widget/examples/%00storefront.html", "/widget/.gitignore", "/widget/nope.js",
    "/widget//crossdesk.js", "/widget/vendor%5c..%5c..%5cREADME.md",
])
def test_odd_static_paths_get_a_clean_404_and_nothing_outside(server, path):
    status, headers, body = fetch(server, path)
    assert status == 404 and headers["content-type"].startswith("application/json"), (status, body[:200])
    assert b"import" not in body and b'"error":"not_found"' in body.replace(b" ", b"")


def test_a_changed_file_is_compressed_again_and_gets_a_new_etag(tmp_path):
    (tmp_path / "w.js").write_text("console.log('one');\n" * 40)
    files = StaticFiles(tmp_path, "no-cache")
    first = files.version(files.resolve("w.js"))
    assert files.version(files.resolve("w.js")) is first  # compressed once, then served from memory
    time.sleep(0.01)
    (tmp_path / "w.js").write_text("console.log('two');\n" * 40)
    os.utime(tmp_path / "w.js")
    second = files.version(files.resolve("w.js"))
    assert second.etag != first.etag and gzip.decompress(second.gzipped) == (tmp_path / "w.js").read_bytes()


def test_accept_encoding_and_if_none_match_are_read_as_http_says():
    assert accepts_gzip("gzip") and accepts_gzip("br;q=1.0, gzip;q=0.8") and accepts_gzip("*")
    assert not accepts_gzip("") and not accepts_gzip("identity") and not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("*;q=0") and not accepts_gzip("gzip;q=abc")
    assert etag_matches('"a", "b"', '"b"') and etag_matches('W/"a"', '"a"') and etag_matches("*", '"x"')
    assert not etag_matches('"a"', '"a-gz"') and not etag_matches("", '"a"')
