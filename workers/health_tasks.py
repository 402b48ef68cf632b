"""Worker side of the health probes: the ping task and the per-queue consumption mark."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from celery import shared_task
from celery.signals import task_prerun

from workers import runtime
from workers.health import CONSUMED_KEY, PING_KEY, PING_TASK
from workers.settings import get_settings

# Kept apart from workers.health so that `health db|beat|redis` never load Celery; the Celery
# app lists this module in its includes, so every worker registers both.


@shared_task(name=PING_TASK, ignore_result=True, acks_late=False)
def health_ping(token: str, queue: str) -> None:
    """Echo the probe's token back: proof that a worker took a message off this queue."""
    settings = get_settings()
    client = runtime.redis_client(settings)
    if client is not None:
        client.set(PING_KEY.format(queue=queue), token, ex=300)
        return
    from storage.health import record_heartbeat

    record_heartbeat(
        runtime.get_engine(settings),
        name=f"health:{queue}"[:128],
        now=datetime.now(UTC),
        info={"token": token},
    )


@task_prerun.connect(weak=False)
def _note_consumption(sender: Any = None, task: Any = None, **_: Any) -> None:
    # A busy queue may hold the probe behind a backlog; "a task from this queue started just now"
    # still proves consumption. Redis only: on the embedded default a DB write per task costs too much.
    try:
        queue = (task.request.delivery_info or {}).get("routing_key") if task else None
        client = runtime.redis_client() if queue else None
        if client is not None:
            client.set(CONSUMED_KEY.format(queue=queue), f"{time.time():.3f}", ex=3600)
    except Exception:  # noqa: S110 - a probe aid must never fail a task
        pass
