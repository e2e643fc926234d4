"""Notifiers against real local receivers: apprise to an SMTP server and an HTTP JSON
receiver, and the Alertmanager notifier against a fake v2 API and the real Alertmanager."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from monitor.delivery.alertmanager import AlertmanagerNotifier, AmAlert
from monitor.delivery.notifiers import AppriseNotifier, Message, channel_of, http_codes
from monitor.errors import NotifyError
from tests.receivers import JsonReceiver, SmtpReceiver

PAGE = Message(title="GANGGUAN: SIPD", body="SIPD tidak dapat diakses.\nPenyebab: status 503",
               kind="page", key="inc-12/page/r0s0/budi")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- channel_of ---------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "channel"), [
    ("tgram://123456:SECRETTOKEN/987", "tgram"),
    ("mailto://user:pass@mail.example.test?to=a@example.test", "mailto"),
    ("JSON://127.0.0.1:8080/hook", "json"),
    ("not a url", "unknown"),
    ("", "unknown"),
])
def test_channel_of_names_the_scheme_and_nothing_else(url: str, channel: str) -> None:
    assert channel_of(url) == channel


def test_http_codes_are_read_from_apprise_warnings() -> None:
    lines = ["Failed to send JSON POST notification: Page not found., error=404.",
             "A Connection error occurred sending JSON notification to 127.0.0.1."]
    assert http_codes(lines) == [404]


# --- apprise --------------------------------------------------------------------------------

async def test_mail_reaches_the_smtp_server_with_subject_and_body(
    smtp_server: SmtpReceiver,
) -> None:
    await AppriseNotifier(timeout=5).send(smtp_server.url(to="budi@example.test"), PAGE)
    [mail] = await smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["budi@example.test"]
    assert mail.mail_from == "siaga@example.test"
    assert mail.subject == "GANGGUAN: SIPD"
    assert "Penyebab: status 503" in mail.body


async def test_json_post_carries_title_body_and_type(json_receiver: JsonReceiver) -> None:
    await AppriseNotifier(timeout=5).send(json_receiver.url(), PAGE)
    [post] = await json_receiver.wait_for(1)
    assert post.path == "/hook"
    assert post.json["title"] == "GANGGUAN: SIPD"
    assert post.json["message"] == PAGE.body
    assert post.json["type"] == "failure"


async def test_server_error_is_retryable_and_the_retry_arrives(
    json_receiver: JsonReceiver,
) -> None:
    notifier = AppriseNotifier(timeout=5)
    json_receiver.fail_with = 500
    with pytest.raises(NotifyError) as failure:
        await notifier.send(json_receiver.url(), PAGE)
    assert failure.value.permanent is False
    assert "500" in str(failure.value)
    json_receiver.fail_with = None
    await notifier.send(json_receiver.url(), PAGE)
    assert len(await json_receiver.wait_for(1)) == 1


@pytest.mark.parametrize(("status", "permanent"), [(404, True), (401, True), (429, False)])
async def test_client_errors_are_permanent_except_rate_limits(
    json_receiver: JsonReceiver, status: int, permanent: bool
) -> None:
    json_receiver.fail_with = status
    with pytest.raises(NotifyError) as failure:
        await AppriseNotifier(timeout=5).send(json_receiver.url(), PAGE)
    assert failure.value.permanent is permanent


async def test_refused_connection_is_retryable() -> None:
    with pytest.raises(NotifyError) as failure:
        await AppriseNotifier(timeout=5).send(f"json://127.0.0.1:{free_port()}/hook", PAGE)
    assert failure.value.permanent is False


async def test_refused_mail_recipient_is_reported_as_retryable(
    smtp_server: SmtpReceiver,
) -> None:
    # apprise logs SMTP reply codes only at DEBUG, so a 550 cannot be told from an outage.
    smtp_server.refuse.add("nobody@example.test")
    with pytest.raises(NotifyError) as failure:
        await AppriseNotifier(timeout=5).send(smtp_server.url(to="nobody@example.test"), PAGE)
    assert failure.value.permanent is False


@pytest.mark.parametrize("url", ["nosuchscheme://host/path", "json://", "tgram://", "hello"])
async def test_url_apprise_cannot_use_is_permanent(url: str) -> None:
    with pytest.raises(NotifyError) as failure:
        await AppriseNotifier(timeout=5).send(url, PAGE)
    assert failure.value.permanent is True


async def test_slow_receiver_times_out_without_blocking_the_loop(
    json_receiver: JsonReceiver,
) -> None:
    json_receiver.delay = 1.5
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    with pytest.raises(NotifyError) as failure:
        await AppriseNotifier(timeout=0.5).send(json_receiver.url(), PAGE)
    elapsed = time.monotonic() - started
    task.cancel()
    assert failure.value.permanent is False
    assert elapsed < 1.4
    assert ticks >= 10  # the loop kept running while apprise waited in its thread


async def test_logs_name_the_channel_never_the_url_or_its_secret(
    json_receiver: JsonReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    json_receiver.fail_with = 500
    url = f"json://siaga:S3cr3tPassw0rd@127.0.0.1:{json_receiver.port}/hook"
    with pytest.raises(NotifyError) as failure:
        await AppriseNotifier(timeout=5).send(url, PAGE)
    assert "S3cr3tPassw0rd" not in caplog.text
    assert "S3cr3tPassw0rd" not in str(failure.value)
    assert "event=notify_failed channel=json" in caplog.text


async def test_apprise_chatter_below_warning_is_silenced(
    json_receiver: JsonReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await AppriseNotifier(timeout=5).send(json_receiver.url(), PAGE)
    assert logging.getLogger("apprise").getEffectiveLevel() == logging.WARNING
    assert not [r for r in caplog.records
                if r.name.startswith(("apprise", "siaga.notify.apprise"))
                and r.levelno < logging.WARNING]


# --- Alertmanager ---------------------------------------------------------------------------

START = datetime(2026, 11, 27, 20, 12, tzinfo=UTC)


def sipd_alert(*, description: str = "status 503", starts_at: datetime = START) -> AmAlert:
    return AmAlert(check="sipd", group="Keuangan Daerah", location="jakarta-1",
                   severity="page", summary="SIPD down", description=description,
                   starts_at=starts_at, generator_url="http://127.0.0.1:9477/status/sipd")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_alert_payload_matches_the_v2_api(
    json_receiver: JsonReceiver, session: aiohttp.ClientSession
) -> None:
    await AlertmanagerNotifier(session, [json_receiver.base]).post([sipd_alert()])
    [post] = await json_receiver.wait_for(1)
    assert post.path == "/api/v2/alerts"
    assert post.json == [{
        "labels": {"alertname": "SiagaCheckDown", "check": "sipd", "group": "Keuangan Daerah",
                   "location": "jakarta-1", "severity": "page"},
        "annotations": {"summary": "SIPD down", "description": "status 503"},
        "startsAt": "2026-11-27T20:12:00.000Z",
        "generatorURL": "http://127.0.0.1:9477/status/sipd",
    }]


async def test_resolved_alert_keeps_the_labels_and_sets_ends_at(
    json_receiver: JsonReceiver, session: aiohttp.ClientSession
) -> None:
    firing = sipd_alert()
    resolved = firing.resolved(START + timedelta(minutes=42))
    await AlertmanagerNotifier(session, [json_receiver.base]).post([resolved])
    [post] = await json_receiver.wait_for(1)
    assert post.json[0]["labels"] == firing.labels()
    assert post.json[0]["endsAt"] == "2026-11-27T20:54:00.000Z"


def test_alert_survives_the_outbox_round_trip() -> None:
    alert = sipd_alert().resolved(START + timedelta(minutes=5))
    assert AmAlert.from_json(alert.to_json()) == alert


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (503, False), (400, True)])
async def test_alertmanager_errors_say_whether_to_retry(
    json_receiver: JsonReceiver, session: aiohttp.ClientSession, status: int, permanent: bool
) -> None:
    json_receiver.fail_with = status
    with pytest.raises(NotifyError) as failure:
        await AlertmanagerNotifier(session, [json_receiver.base]).post([sipd_alert()])
    assert failure.value.permanent is permanent


async def test_one_reachable_alertmanager_of_a_cluster_is_enough(
    json_receiver: JsonReceiver, session: aiohttp.ClientSession
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    await AlertmanagerNotifier(session, [dead, json_receiver.base]).post([sipd_alert()])
    assert len(await json_receiver.wait_for(1)) == 1


async def test_unreachable_alertmanager_is_retryable(session: aiohttp.ClientSession) -> None:
    notifier = AlertmanagerNotifier(session, [f"http://127.0.0.1:{free_port()}"])
    with pytest.raises(NotifyError) as failure:
        await notifier.post([sipd_alert()])
    assert failure.value.permanent is False


ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

AM_CONFIG = """\
route:
  receiver: hook
  group_by: [alertname, check]
  group_wait: 1s
  group_interval: 1m
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {hook}
        send_resolved: false
"""


@asynccontextmanager
async def running_alertmanager(tmp_path: Path, hook: str,
                              text: str | None = None) -> AsyncIterator[str]:
    """A real Alertmanager on 127.0.0.1 without clustering (config `text`, else AM_CONFIG
    notifying `hook`); yields its base URL."""
    assert ALERTMANAGER is not None
    config = tmp_path / "alertmanager.yml"
    config.write_text(text if text is not None else AM_CONFIG.format(hook=hook))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "alertmanager.log").open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
            stdout=out, stderr=out)
    try:
        await wait_ready(base, tmp_path / "alertmanager.log")
        yield base
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def wait_ready(base: str, log_file: Path) -> None:
    async with aiohttp.ClientSession() as client:
        for _ in range(150):
            try:
                async with client.get(f"{base}/-/ready") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("alertmanager did not start:\n" + log_file.read_text()[-2000:])


@pytest.mark.skipif(ALERTMANAGER is None, reason="prometheus-alertmanager is not installed")
async def test_real_alertmanager_notifies_once_for_two_replicas(
    tmp_path: Path, json_receiver: JsonReceiver, session: aiohttp.ClientSession
) -> None:
    async with running_alertmanager(tmp_path, json_receiver.base + "/am-hook") as base:
        replica_a = AlertmanagerNotifier(session, [base])
        replica_b = AlertmanagerNotifier(session, [base])
        # The two replicas saw the failure at slightly different times and in other words.
        await replica_a.post([sipd_alert(starts_at=datetime.now(UTC))])
        await replica_b.post([sipd_alert(description="connect: connection refused",
                                         starts_at=datetime.now(UTC) + timedelta(seconds=3))])
        [post] = await json_receiver.wait_for(1, timeout=15)
        await asyncio.sleep(2.5)  # well past group_wait: a second notification would be here
    assert len(json_receiver.posts) == 1
    assert [a["labels"]["check"] for a in post.json["alerts"]] == ["sipd"]
    assert post.json["alerts"][0]["labels"]["location"] == "jakarta-1"
