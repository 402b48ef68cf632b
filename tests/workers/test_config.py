"""Settings fail fast on nonsense; the Celery app is JSON-only with late acks; compose matches the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from workers.celery_app import build_config
from workers.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_defaults_are_the_embedded_default(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.effective_database_url.startswith("sqlite:///")
    assert s.effective_broker_url.startswith("sqla+sqlite:///")
    assert s.embedded_broker
    assert s.allowed_networks == []


def test_allowed_networks_parsed_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_ALLOWED_NETWORKS", "127.0.0.1/32, ::1/128")
    assert Settings().allowed_networks == ["127.0.0.1/32", "::1/128"]


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("NEWSWATCH_ALLOWED_NETWORKS", "not-a-cidr"),
        ("NEWSWATCH_DATABASE_URL", "mysql://x"),
        ("NEWSWATCH_TASK_TIME_LIMIT", "10"),
        ("NEWSWATCH_MAX_BODY_BYTES", "-1"),
        ("NEWSWATCH_POLL_CEILING_SECONDS", "5"),
    ],
)
def test_nonsense_fails_fast(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError):
        Settings()


def test_a_bad_smtp_url_fails_fast_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # An unencoded "/" in the password: the URL parser would take "sentinel-44" for the port.
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", "smtp://u:sentinel-44/x@mail.example?starttls=1")
    with pytest.raises(ValidationError) as err:
        Settings()
    assert "NEWSWATCH_SMTP_URL is malformed" in str(err.value)
    assert "sentinel-44" not in str(err.value)


def test_secrets_are_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_BROKER_URL", "redis://:sentinel-secret-42@localhost:6379/0")
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", "smtp://u:sentinel-secret-43@localhost")
    s = Settings()
    assert "sentinel-secret" not in repr(s)
    assert "sentinel-secret" not in str(s.model_dump())


def test_celery_is_json_only_with_late_acks(tmp_path: Path) -> None:
    conf = build_config(Settings(data_dir=tmp_path, broker_url="redis://localhost:6379/0"))
    assert conf["accept_content"] == ["json"]
    assert conf["task_serializer"] == "json"
    assert conf["task_acks_late"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["task_soft_time_limit"] < conf["task_time_limit"]
    assert {q.name for q in conf["task_queues"]} == {"feeds", "articles", "alerts"}  # type: ignore[attr-defined]
    assert conf["broker_transport_options"]["visibility_timeout"] == 3600  # type: ignore[index]


def test_compose_services_use_cli_commands_the_tests_run() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"redis", "postgres", "migrate", "worker", "beat", "flower", "mailpit"} <= set(services)
    assert services["migrate"]["entrypoint"] == [
        "sh",
        "-c",
        "newswatch db upgrade && newswatch metrics-reset",
    ]
    assert compose["x-newswatch"]["env_file"] == [{"path": ".env", "required": False}]
    assert services["worker"]["command"][0] == "worker"
    assert services["beat"]["command"] == ["beat"]
    assert services["flower"]["command"][:1] == ["flower"]
    assert "--address" in services["flower"]["command"]  # the published port must reach Flower
    assert services["metrics"]["command"][0] == "metrics-serve"
    assert services["flower"]["environment"]["NEWSWATCH_FLOWER_BASIC_AUTH"].startswith(
        "${FLOWER_BASIC_AUTH:?"
    )
    assert "--requirepass" in services["redis"]["command"]
    assert "healthcheck" in services["postgres"]
    assert "container_name" not in services["worker"]  # --scale worker=N needs this
    assert "ports" not in services["worker"]
    # Mailpit and /metrics have no login and Flower's basic auth is in clear: loopback only
    published = [p for svc in services.values() for p in svc.get("ports", [])]
    assert len(published) == 3 and all(p.startswith("127.0.0.1:") for p in published)
    env = services["worker"]["environment"]
    assert env["NEWSWATCH_BROKER_URL"].startswith("redis://:${REDIS_PASSWORD")
    from workers.cli import app

    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    groups = {g.name for g in app.registered_groups}
    assert {
        "run",
        "worker",
        "beat",
        "demo",
        "poll",
        "flower",
        "status",
        "health",
        "metrics-serve",
        "metrics-reset",
    } <= names
    assert {"db", "outlets", "articles"} <= groups


def test_env_example_lists_every_setting() -> None:
    text = (REPO / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"NEWSWATCH_{name.upper()}" in text, name
