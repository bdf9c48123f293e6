"""The widget's size budget: at most 25 KB gzipped (socket.io-client excluded)."""

import gzip

from tests.support import ROOT


def test_widget_code_stays_within_its_size_budget():
    size = len(gzip.compress((ROOT / "widget" / "crossdesk.js").read_bytes(), 9))
    assert size <= 25 * 1024, f"widget is {size} bytes gzipped"
