"""A store closed while another thread is inside a query (a stopping server whose executor is still busy).

Closing a sqlite3 connection under a running statement kills the process with a segmentation
fault, so each case runs in its own interpreter and the test reads its exit code and output.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

from tests.support import ROOT

SCRIPT = textwrap.dedent("""
    import sys, threading, time
    from sqlalchemy import text
    from handoff.store import SQLStore

    store = SQLStore(f"sqlite:///{sys.argv[1]}/crossdesk.db")
    ROWS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) SELECT x FROM c"
    started, result = threading.Event(), []

    def query():  # (a report reading its rows one by one, as the KPI and recovery queries do)
        with store.engine.connect() as conn:
            rows = conn.execute(text(ROWS))
            started.set()
            result.append(sum(row[0] for row in rows))
        result.append(store.conversation_exists("later"))

    worker = threading.Thread(target=query)
    worker.start()
    started.wait()
    time.sleep(0.02)
    store.close()
    closed_with = list(result)
    worker.join()
    print(repr((closed_with, result)))
""")


def test_closing_the_store_waits_for_a_query_running_on_another_thread(tmp_path):
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)

    assert run.returncode == 0, run.stderr[-2000:]
    closed_with, result = ast.literal_eval(run.stdout.strip())
    assert closed_with[:1] == [45000150000]  # close() returned only after the running query had its answer
    assert result == [45000150000, False]  # and the thread's next use of the store was an answer, not a crash
