"""Flower against the test Redis with a real worker: auth, task listing, secrets masked, and Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from celery import Celery

from tests.conftest import REPO, wait_for
from tests.ops.conftest import (
    FLOWER_AUTH,
    REDIS_PASSWORD,
    Stack,
    invoke,
    start_process,
    stop_process,
)
from tests.servers import free_port
from workers.cli_ops import flower_environment

ARTIFACTS = REPO / "artifacts"
USER, PASSWORD = FLOWER_AUTH.split(":")
SMTP_PASSWORD = "smtp-Pw-5h8u"


class Flower:
    def __init__(self, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.port = port
        self.proc = proc
        self.log = log
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, *, auth: bool = True) -> httpx.Response:
        return httpx.get(self.base + path, auth=(USER, PASSWORD) if auth else None, timeout=15)


@pytest.fixture(scope="module")
def flower(ops_stack: Stack) -> Iterator[Flower]:
    port = free_port()
    log = ops_stack.tmp / "flower.log"
    env = ops_stack.env | {"NEWSWATCH_FLOWER_BASIC_AUTH": FLOWER_AUTH}
    proc = start_process(["flower", "--port", str(port)], env, log)
    running = Flower(port, proc, log)

    def up() -> bool:
        try:
            return running.get("/healthcheck", auth=False).text == "OK"
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, timeout=60, what="flower /healthcheck")
        # Tasks sent after Flower is listening, so its event receiver sees them run.
        sender = Celery(broker=ops_stack.broker_url)
        for _ in range(3):
            sender.send_task("newswatch.heartbeat", queue="alerts")
        sender.send_task("newswatch.health_ping", args=["flower-test", "feeds"], queue="feeds")
        sender.close()
        yield running
    finally:
        stop_process(proc)


def _tasks(flower: Flower) -> dict[str, dict[str, object]]:
    response = flower.get("/api/tasks")
    return response.json() if response.status_code == 200 else {}


def test_api_lists_worker_and_executed_tasks_with_credentials(flower: Flower) -> None:
    tasks = wait_for(
        lambda: [t for t in _tasks(flower).values() if t.get("state") == "SUCCESS"],
        timeout=60,
        what="tasks listed as SUCCESS by Flower",
    )
    names = {t["name"] for t in tasks}
    assert "newswatch.heartbeat" in names
    unexpected = [
        (t["name"], t["args"])
        for t in tasks
        if not (t["args"] in ("()", "[]") or "flower-test" in str(t["args"]))
    ]
    assert unexpected == []  # names the task when a stray one shows up

    workers = wait_for(
        lambda: flower.get("/api/workers?refresh=1").json(), timeout=30, what="workers in Flower"
    )
    assert len(workers) >= 1
    info = next(iter(workers.values()))
    assert "newswatch.poll_feed" in info.get("registered", [])
    queues = {q["name"] for q in info.get("active_queues", [])}
    assert {"feeds", "articles", "alerts"} <= queues


def test_without_credentials_is_401_and_probe_endpoints_stay_open(flower: Flower) -> None:
    for path in ("/", "/tasks", "/api/workers", "/api/tasks", "/broker"):
        assert flower.get(path, auth=False).status_code == 401, path
    wrong = httpx.get(flower.base + "/api/workers", auth=(USER, "wrong"), timeout=10)
    assert wrong.status_code == 401
    assert flower.get("/healthcheck", auth=False).text == "OK"
    metrics = flower.get("/metrics", auth=False)
    assert metrics.status_code == 200
    assert "flower_events_total" in metrics.text


def test_no_secret_in_flower_pages_inspect_conf_logs_or_process_list(
    flower: Flower, ops_stack: Stack
) -> None:
    workers = flower.get("/api/workers?refresh=1").json()
    name = next(iter(workers))
    conf = workers[name]["conf"]
    assert conf["broker_url"].startswith("redis://")
    assert REDIS_PASSWORD not in conf["broker_url"]
    pages = [flower.get(p).text for p in ("/", "/broker", f"/worker/{name}", "/tasks")]
    pages.append(flower.get("/api/workers?refresh=1").text)
    for text in pages:
        assert REDIS_PASSWORD not in text
        assert SMTP_PASSWORD not in text
        assert PASSWORD not in text
    assert "redis://" in pages[1]  # the broker page shows the masked URL, so we checked it

    # What `celery inspect conf` prints: each worker's reply, censored by the worker itself.
    control = Celery(broker=ops_stack.broker_url)
    try:
        replies = control.control.inspect(timeout=5).conf() or {}
    finally:
        control.close()
    assert replies, "no worker answered inspect conf"
    for reply in replies.values():
        assert "broker_url" in reply
        assert REDIS_PASSWORD not in json.dumps(reply, default=str)

    cmdline = Path(f"/proc/{flower.proc.pid}/cmdline").read_bytes()
    assert PASSWORD.encode() not in cmdline
    assert b"flower" in cmdline
    log = flower.log.read_text(errors="replace")
    assert "Visit me" in log or "Broker" in log
    for secret in (REDIS_PASSWORD, PASSWORD, SMTP_PASSWORD):
        assert secret not in log
        assert secret not in ops_stack.worker_log.read_text(errors="replace")


def test_flower_refuses_without_credentials_and_on_the_embedded_broker(
    ops_stack: Stack, tmp_path: Path
) -> None:
    redis_env = {"NEWSWATCH_BROKER_URL": ops_stack.broker_url, "NEWSWATCH_DATA_DIR": str(tmp_path)}
    code, out = invoke(["flower", "--port", str(free_port())], redis_env)
    assert code == 2
    assert "NEWSWATCH_FLOWER_BASIC_AUTH" in out
    code, out = invoke(["flower"], redis_env | {"NEWSWATCH_FLOWER_BASIC_AUTH": "just-a-password"})
    assert code == 2 and "just-a-password" not in out
    embedded = {"NEWSWATCH_DATA_DIR": str(tmp_path), "NEWSWATCH_FLOWER_BASIC_AUTH": FLOWER_AUTH}
    code, out = invoke(["flower"], embedded)
    assert code == 2
    assert "Redis" in out and "broadcast" in out


def test_flower_environment_carries_credentials_only_in_the_environment() -> None:
    env = flower_environment(
        {"PROMETHEUS_MULTIPROC_DIR": "/x", "FLOWER_UNAUTHENTICATED_API": "true", "PATH": "/bin"},
        credentials=FLOWER_AUTH,
        insecure_no_auth=False,
    )
    assert env == {"PATH": "/bin", "FLOWER_BASIC_AUTH": FLOWER_AUTH}
    with pytest.raises(PermissionError):
        flower_environment({}, credentials="", insecure_no_auth=False)
    with pytest.raises(ValueError) as bad:
        flower_environment({}, credentials="just-a-password", insecure_no_auth=False)
    assert "just-a-password" not in str(bad.value)
    # .env.example's placeholder, copied unchanged into a deployment, is not a password
    with pytest.raises(ValueError, match="placeholder"):
        flower_environment({}, credentials="admin:change-me", insecure_no_auth=False)
    assert "FLOWER_BASIC_AUTH" not in flower_environment(
        {"FLOWER_BASIC_AUTH": ""}, credentials="", insecure_no_auth=True
    )


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "Debian's chromium is required (make test installs it: apt-get install chromium)"
    return exe


def test_headless_chromium_renders_tasks_page_with_our_task_names(
    flower: Flower, tmp_path: Path
) -> None:
    wait_for(
        lambda: any(t.get("name") == "newswatch.heartbeat" for t in _tasks(flower).values()),
        timeout=60,
        what="heartbeat tasks in Flower",
    )
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "flower-tasks.png"
    screenshot.unlink(missing_ok=True)
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:{flower.port}/tasks"
    common = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--hide-scrollbars",
        "--virtual-time-budget=8000",
    ]
    dom = subprocess.run(
        [*common, f"--user-data-dir={tmp_path / 'profile-dom'}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert "newswatch.heartbeat" in dom.stdout, dom.stderr[-2000:]
    assert "Access denied" not in dom.stdout
    shot = subprocess.run(
        [
            *common,
            f"--user-data-dir={tmp_path / 'profile-shot'}",
            f"--screenshot={screenshot}",
            "--window-size=1280,900",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert screenshot.exists(), shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000  # a rendered table, not a blank page
