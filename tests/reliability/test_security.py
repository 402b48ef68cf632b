"""Security against the running system: SSRF canaries, pickle refused, secrets kept, auth required."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml
from celery import Celery
from sqlmodel import Session, select

from alerts.render import ArticleSummary, render_alert
from storage.db import make_engine
from storage.models import Feed, Heartbeat
from tests.conftest import REPO, run_cli, wait_for
from tests.reliability.harness import (
    PARAGRAPHS,
    LocalSite,
    Proc,
    article_html,
    rss,
    send,
    static,
    write_outlet,
)
from tests.servers import RedisServer, free_port

pytestmark = pytest.mark.reliability

SENTINEL_REDIS = "SentinelRedisPw-4b7q9x"  # noqa: S105 - throwaway secrets the tests hunt for
SENTINEL_SMTP = "SentinelSmtpPw-8k2m5w"  # noqa: S105


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSWATCH_", "FLOWER_"))}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        NEWSWATCH_DATA_DIR=str(tmp_path / "data"),
        NEWSWATCH_ALLOWED_NETWORKS="127.0.0.1/32",
        NEWSWATCH_PER_HOST_SPACING="0",
        PYTHONUNBUFFERED="1",
    )
    return env


# --------------------------------------------------------------------------- SSRF


@pytest.fixture()
def canaries() -> Iterator[list[LocalSite]]:
    """Servers that must never be contacted: 127.0.0.2 and [::1], answering everything."""
    sites = [LocalSite(host="127.0.0.2"), LocalSite(host="::1")]
    for site in sites:
        page = article_html("Canary", PARAGRAPHS)
        site.routes.update(
            {"/feed.xml": static(rss([("c", site.url("/a.html"))])), "/a.html": static(page)}
        )
    yield sites
    for site in sites:
        site.close()


def ssrf_targets(v4: LocalSite, v6: LocalSite) -> list[str]:
    """Ways of writing the canaries' addresses (feeds, links and redirect targets use them all)."""
    p4, p6 = v4.port, v6.port
    return [
        f"http://127.0.0.2:{p4}/feed.xml",
        f"http://2130706434:{p4}/feed.xml",  # 127.0.0.2 as one decimal number
        f"http://0x7f000002:{p4}/feed.xml",
        f"http://127.0.0.2.:{p4}/feed.xml",
        f"http://[::ffff:127.0.0.2]:{p4}/feed.xml",
        f"http://[::1]:{p6}/feed.xml",
        f"http://[0:0:0:0:0:0:0:1]:{p6}/feed.xml",
        f"http://localhost:{p6}/feed.xml",  # resolves to ::1 as well as 127.0.0.1
        f"http://user@127.0.0.2:{p4}/feed.xml",
    ]


@pytest.mark.timeout(300)
def test_ssrf_canaries_receive_nothing_through_feeds_links_and_redirects(
    canaries: list[LocalSite], tmp_path: Path
) -> None:
    v4, v6 = canaries
    targets = ssrf_targets(v4, v6)
    with LocalSite() as allowed:
        # Article links in an allowed feed pointing at the canaries, and allowed pages that redirect.
        links = [
            (f"link {i}", t.replace("/feed.xml", f"/a.html?{i}")) for i, t in enumerate(targets)
        ]
        for i, target in enumerate(targets):
            allowed.routes[f"/redirect-feed-{i}"] = _redirect(target)
            allowed.routes[f"/redirect-page-{i}.html"] = _redirect(
                target.replace("/feed.xml", "/a.html")
            )
            links.append((f"redirected {i}", allowed.url(f"/redirect-page-{i}.html")))
        allowed.routes["/links.xml"] = static(rss(links), "application/rss+xml")
        outlets = tmp_path / "outlets"
        outlets.mkdir()
        feeds = [
            *targets,
            *(allowed.url(f"/redirect-feed-{i}") for i in range(len(targets))),
            allowed.url("/links.xml"),
        ]
        for i, feed in enumerate(feeds):
            write_outlet(outlets, f"ssrf-{i:02d}", [feed], home=allowed.url("/"))
        env = clean_env(tmp_path) | {
            "NEWSWATCH_OUTLETS_DIR": str(outlets),
            "NEWSWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'ssrf.db'}",
        }
        run_cli(["db", "upgrade"], env)
        summary = json.loads(run_cli(["poll", "--once", "--format", "json"], env).stdout)

        assert v4.requests == [] and v6.requests == [], (v4.requests, v6.requests)
        assert summary["feed_errors"] == len(feeds) - 1  # every feed but the allowed links feed
        assert summary["articles_stored"] == 0
        engine = make_engine(env["NEWSWATCH_DATABASE_URL"])
        with Session(engine) as s:
            rows = s.exec(select(Feed)).all()
        engine.dispose()
        kinds = {f.url: f.last_error_kind for f in rows if f.last_error_kind}
        assert set(kinds.values()) <= {"blocked", "bad_scheme", "connect"}, kinds
        assert list(kinds.values()).count("blocked") >= len(targets), kinds


def _redirect(target: str) -> Any:
    return lambda h: send(h, b"", status=302, content_type=None, headers={"Location": target})


# --------------------------------------------------------------------------- a worker on Redis


class WorkerStack:
    def __init__(self, tmp: Path, redis_server: RedisServer, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.redis = redis_server
        self.env = env
        self.db_url = env["NEWSWATCH_DATABASE_URL"]
        self.worker = Proc(["worker", "--loglevel", "DEBUG"], env, tmp / "worker.log")

    def heartbeat_count(self) -> int:
        engine = make_engine(self.db_url)
        try:
            with Session(engine) as s:
                return len(s.exec(select(Heartbeat)).all())
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def secret_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerStack]:
    """A worker on a password-protected Redis, with an SMTP URL holding a password, at DEBUG."""
    tmp = tmp_path_factory.mktemp("secrets")
    server = RedisServer(password=SENTINEL_REDIS).start()
    smtp_port = free_port()  # nothing listens: delivery fails and logs its error
    env = clean_env(tmp) | {
        "NEWSWATCH_BROKER_URL": server.url,
        "NEWSWATCH_DATABASE_URL": f"sqlite:///{tmp / 'secrets.db'}",
        "NEWSWATCH_SMTP_URL": f"smtp://alerts:{SENTINEL_SMTP}@127.0.0.1:{smtp_port}",
        "NEWSWATCH_LOG_LEVEL": "DEBUG",
    }
    run_cli(["db", "upgrade"], env)
    stack = WorkerStack(tmp, server, env)
    try:
        wait_for(lambda: "ready" in stack.worker.text(), timeout=90, what="worker ready")
        yield stack
    finally:
        stack.worker.stop()
        server.cleanup()


def test_pickled_message_is_refused_and_never_runs(secret_stack: WorkerStack) -> None:
    marker = secret_stack.tmp / "pickle-ran"
    sender = Celery(broker=secret_stack.redis.url)
    sender.conf.update(accept_content=["json", "pickle"], task_serializer="pickle")
    try:
        sender.send_task(
            "newswatch.heartbeat", args=[Boom(str(marker))], queue="alerts", serializer="pickle"
        )
        before = secret_stack.heartbeat_count()
        # A normal message after it, on the same queue: once it ran, the pickle was dealt with.
        sender.send_task("newswatch.heartbeat", queue="alerts", serializer="json")
    finally:
        sender.close()
    wait_for(
        lambda: secret_stack.heartbeat_count() > before or "heartbeat" in _ran(secret_stack),
        timeout=60,
        what="the json heartbeat to run",
    )
    wait_for(lambda: "pickle" in secret_stack.worker.text(), timeout=30, what="the refusal logged")
    log = secret_stack.worker.text()
    assert re.search(r"[Rr]efusing to deserialize untrusted content of type pickle", log)
    assert not marker.exists()
    assert secret_stack.worker.alive()


def _ran(stack: WorkerStack) -> str:
    return (
        "heartbeat"
        if "newswatch.heartbeat" in stack.worker.text() and "succeeded" in stack.worker.text()
        else ""
    )


class Boom:
    """Unpickling this creates a file: proof that a pickle was executed."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (Path(self.path),))


def test_secrets_never_appear_in_logs_tracebacks_or_inspect_conf(secret_stack: WorkerStack) -> None:
    # Make the worker fail loudly: an alert delivery to an SMTP server that is down, and a
    # broker outage it has to reconnect through.
    sender = Celery(broker=secret_stack.redis.url)
    try:
        sender.send_task("newswatch.deliver_outbox", queue="alerts")
        sender.send_task("newswatch.send_alert", args=[424242], queue="alerts")
    finally:
        sender.close()
    wait_for(
        lambda: "newswatch.send_alert" in secret_stack.worker.text(), timeout=60, what="send_alert"
    )

    def inspect_conf() -> subprocess.CompletedProcess[str] | None:
        # Asked before the Redis restart: the secrets question does not depend on the outage,
        # and the broadcast consumer can take long to come back after it.
        proc = subprocess.run(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "workers.celery_app",
                "inspect",
                "conf",
                "--timeout",
                "5",
                "--json",
            ],
            env=secret_stack.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=90,
        )
        return proc if proc.returncode == 0 else None

    conf = wait_for(inspect_conf, timeout=120, interval=2, what="celery inspect conf to answer")
    secret_stack.redis.restart()
    wait_for(
        lambda: "Connected to redis" in secret_stack.worker.text().split("send_alert", 1)[-1],
        timeout=90,
        what="worker reconnected after the Redis restart",
    )

    assert "broker_url" in conf.stdout
    status = run_cli(["status"], secret_stack.env, check=False)
    outputs = {
        "worker log": secret_stack.worker.text(),
        "inspect conf": conf.stdout + conf.stderr,
        "status": status.stdout + status.stderr,
    }
    assert "Traceback" in outputs["worker log"] or "Error" in outputs["worker log"]
    for name, text in outputs.items():
        assert SENTINEL_REDIS not in text, name
        assert SENTINEL_SMTP not in text, name


# --------------------------------------------------------------------------- compose Redis, Flower


def test_compose_redis_command_requires_a_password(tmp_path: Path) -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    command = compose["services"]["redis"]["command"]
    argv = command if isinstance(command, list) else shlex.split(command)
    password = "compose-Pw-3x9"  # noqa: S105
    argv = [re.sub(r"\$\{REDIS_PASSWORD[^}]*\}", password, a) for a in argv]
    assert "--requirepass" in argv
    port = free_port()
    proc = subprocess.Popen(
        [*argv, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path), "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        from tests.servers import wait_port

        wait_port(port)
        anonymous = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
        with pytest.raises(redis.exceptions.AuthenticationError):
            anonymous.ping()
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port, password="wrong", socket_timeout=5).ping()
        assert redis.Redis(host="127.0.0.1", port=port, password=password).ping()
    finally:
        proc.terminate()
        proc.wait(10)


def test_flower_refuses_to_run_or_serve_without_credentials(
    secret_stack: WorkerStack, tmp_path: Path
) -> None:
    port = free_port()
    refused = run_cli(["flower", "--port", str(port)], secret_stack.env, check=False, timeout=60)
    assert refused.returncode != 0
    assert "credentials" in (refused.stdout + refused.stderr)
    env = secret_stack.env | {"NEWSWATCH_FLOWER_BASIC_AUTH": "ops:flower-Pw-2r8"}
    flower = Proc(["flower", "--port", str(port)], env, tmp_path / "flower.log")
    try:

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=5).status_code > 0
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=60, what="flower listening")
        for path in ("/", "/workers", "/api/workers", "/tasks"):
            assert httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10).status_code == 401, path
        bad = httpx.get(f"http://127.0.0.1:{port}/", auth=("ops", "wrong"), timeout=10)
        assert bad.status_code == 401
        good = httpx.get(f"http://127.0.0.1:{port}/", auth=("ops", "flower-Pw-2r8"), timeout=10)
        assert good.status_code == 200
        assert SENTINEL_REDIS not in good.text
    finally:
        flower.stop()
    assert SENTINEL_REDIS not in flower.text()


# --------------------------------------------------------------------------- email headers


def test_alert_email_header_injection_is_impossible() -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    evil = "x\r\nBcc: victim@evil.example\r\nX-Injected: yes\n\nbody"
    rendered = render_alert(
        watch_id="w\r\nX-Injected: yes",
        label=f"Budget {evil}",
        note={"kind": "fired\r\nX-Injected: yes", "mentions": 5, "expected": 1.0, "ratio": 5.0},
        series=[1, 5],
        expected=[1, 1],
        articles=[
            ArticleSummary(title=evil, url=f"https://a.example/{evil}", outlet=evil, time=now)
        ],
        recipients=[f"analyst@example.org{evil}", "second@example.org\nBcc: b@evil.example"],
        mail_from=f"newswatch <nw@example.org>{evil}",
        interval_start=now,
        now=now,
    )
    raw = rendered.as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    msg = message_from_bytes(raw, policy=default_policy)
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert "\nBcc:" not in head and "\nX-Injected:" not in head
    names = [k.lower() for k in msg]
    assert len(names) == len(set(names)), names  # no header given twice
    assert "evil.example" not in str(msg["To"]) or "\n" not in str(msg["To"])
    assert "\n" not in str(msg["Subject"]) and "\r" not in str(msg["Subject"])
