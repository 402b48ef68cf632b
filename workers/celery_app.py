"""The one Celery app: queues, JSON-only serialisation, late acks, time limits and the beat schedule."""

from __future__ import annotations

from celery import Celery
from kombu import Queue
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.sqlalchemy import Transport as SqlTransport

from workers.settings import Settings, get_settings

QUEUES = ("feeds", "articles", "alerts")
EMBEDDED_SCHEME = "nwsqla"


class EmbeddedSqlTransport(SqlTransport):  # type: ignore[misc]
    """kombu's SQL transport, polling its tables every 0.1 s instead of every second.

    With one unacknowledged message per process (prefetch 1, late acks) a virtual transport
    finds nothing it may take right after each task and sleeps a whole polling interval: the
    default 1 s capped the embedded default at about one article per second per process.
    The interval cannot be passed as a transport option, because this transport hands every
    option to `create_engine`.
    """

    polling_interval = 0.1


TRANSPORT_ALIASES.setdefault(EMBEDDED_SCHEME, f"{__name__}:EmbeddedSqlTransport")

TASK_ROUTES = {
    "newswatch.dispatch_due_feeds": {"queue": "feeds"},
    "newswatch.poll_feed": {"queue": "feeds"},
    "newswatch.process_article": {"queue": "articles"},
    "newswatch.evaluate_watches": {"queue": "alerts"},
    "newswatch.send_alert": {"queue": "alerts"},
    "newswatch.deliver_outbox": {"queue": "alerts"},
    "newswatch.heartbeat": {"queue": "alerts"},
    "newswatch.maintenance": {"queue": "alerts"},
    "newswatch.requeue_stalled": {"queue": "feeds"},
    "newswatch.revive_failed": {"queue": "feeds"},
}


def build_config(settings: Settings) -> dict[str, object]:
    """Celery configuration derived from settings; pure, so it can be inspected in tests."""
    transport_options: dict[str, object] = {"visibility_timeout": settings.visibility_timeout}
    if settings.embedded_broker:
        # kombu's SQL transport hands its options to create_engine: wait on SQLite's lock
        # rather than fail when the worker's processes and beat write the broker file at once.
        transport_options = {"connect_args": {"timeout": 30}}
    broker_url = settings.effective_broker_url
    if settings.embedded_broker:
        broker_url = f"{EMBEDDED_SCHEME}+{broker_url.removeprefix('sqla+')}"
    return {
        "broker_url": broker_url,
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # keep reconnecting after a Redis restart
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],  # pickle refused: a pickled message is rejected, never run
        "event_serializer": "json",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,  # a killed child's task is redelivered
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.task_soft_time_limit,
        "task_time_limit": settings.task_time_limit,
        "task_default_queue": "feeds",
        "task_queues": [Queue(name) for name in QUEUES],
        "task_routes": TASK_ROUTES,
        "task_send_sent_event": True,
        "worker_send_task_events": True,
        "worker_hijack_root_logger": False,
        "worker_concurrency": settings.worker_concurrency,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "beat_schedule": {
            "dispatch-due-feeds": {
                "task": "newswatch.dispatch_due_feeds",
                "schedule": settings.dispatch_interval_seconds,
            },
            "evaluate-watches": {
                "task": "newswatch.evaluate_watches",
                "schedule": float(min(settings.alert_interval_seconds, 300)),
            },
            "deliver-outbox": {"task": "newswatch.deliver_outbox", "schedule": 30.0},
            "heartbeat": {"task": "newswatch.heartbeat", "schedule": 30.0},
            "requeue-stalled": {"task": "newswatch.requeue_stalled", "schedule": 60.0},
            "revive-failed": {"task": "newswatch.revive_failed", "schedule": 900.0},
            "maintenance": {"task": "newswatch.maintenance", "schedule": 6 * 3600.0},
        },
        "timezone": "UTC",
        "enable_utc": True,
    }


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    if settings.embedded_broker:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    # include: every worker registers the health probe task, however it was started.
    app = Celery("newswatch", include=["workers.tasks", "workers.health_tasks"])
    app.conf.update(build_config(settings))
    return app


app = create_app()
