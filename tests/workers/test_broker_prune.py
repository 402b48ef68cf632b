"""The embedded broker's file stops growing: delivered messages (kombu's SQL transport only
marks them invisible) are deleted once old; a message still waiting is never touched."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from kombu import Connection

from workers.broker_sqlite import prune_delivered


def test_old_delivered_messages_are_deleted_and_waiting_ones_kept(tmp_path: Path) -> None:
    db = tmp_path / "broker.db"
    url = f"sqla+sqlite:///{db}"
    assert prune_delivered(url, now=datetime.now()) == 0 and not db.exists()  # creates nothing
    with Connection(url) as conn:
        queue = conn.SimpleQueue("articles")
        for n in range(3):
            queue.put({"n": n})
        for _ in range(2):
            queue.get(timeout=5).ack()
        queue.close()
    with sqlite3.connect(db) as c:
        assert c.execute(
            "SELECT visible, COUNT(*) FROM kombu_message GROUP BY visible"
        ).fetchall() == [
            (0, 2),
            (1, 1),
        ]
    assert prune_delivered(url, now=datetime.now()) == 0  # delivered today: kept a day
    later = datetime.now() + timedelta(days=2)
    assert prune_delivered(url, now=later) == 2  # the waiting one is old too, and stays
    with Connection(url) as conn:
        queue = conn.SimpleQueue("articles")
        message = queue.get(timeout=5)
        assert message.payload == {"n": 2}
        message.ack()
        queue.close()


def test_the_maintenance_task_prunes_the_embedded_broker(tmp_path: Path) -> None:
    from tests.workers.test_requeue import _env, _in_worker_env

    data = tmp_path / "data"
    data.mkdir()
    env = _env(tmp_path, data)
    url = f"sqla+sqlite:///{(data / 'broker.db').resolve()}"
    with Connection(url) as conn:
        queue = conn.SimpleQueue("alerts")
        queue.put({"n": 1})
        queue.get(timeout=5).ack()
        queue.close()
    with sqlite3.connect(data / "broker.db") as c:
        c.execute("UPDATE kombu_message SET timestamp = datetime('now', 'localtime', '-2 days')")
    assert _in_worker_env(env, "from workers.tasks import maintenance; print(maintenance())") == "0"
    with sqlite3.connect(data / "broker.db") as c:
        assert c.execute("SELECT COUNT(*) FROM kombu_message").fetchone() == (0,)
