"""The Dagster UI, used as a person would: headless Debian Chromium (Playwright, no browser
download) against `dagster dev` on the instance the CI recipe materialized. Screenshots go to
test-output/ui/."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dataplat_resources.settings import PROJECT_ROOT
from tests.conftest import MaterializedPlatform, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = PROJECT_ROOT / "test-output" / "ui"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As root, with no network: no sandbox, no background calls home (they are refused here).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SIMULATORS = [
    "mobile_app_simulator",
    "web_simulator",
    "postgres_cdc_simulator",
    "clickstream_simulator",
    "external_data_simulator",
]
TOPICS = ["topic_app_events", "topic_cdc_changes", "topic_clickstream", "topic_external_data"]
BRONZE = ["bronze_app_events", "bronze_cdc_changes", "bronze_clickstream", "bronze_external_data"]


@pytest.fixture(scope="module")
def dagster_ui(materialized_platform: MaterializedPlatform) -> Iterator[str]:
    port = free_port()
    log = (materialized_platform.root / "dagster-dev.log").open("w")
    process = subprocess.Popen(
        [
            str(PROJECT_ROOT / ".venv" / "bin" / "dagster"),
            "dev",
            "-w",
            str(PROJECT_ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=materialized_platform.root,
        env=materialized_platform.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its webserver, daemon and code server share one process group
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2):
                break
        except OSError:
            assert process.poll() is None, (materialized_platform.root / "dagster-dev.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "dagster dev did not start"
            time.sleep(1)
    try:
        yield url
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: dagster dev stops its children
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def browser(dagster_ui: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install chromium chromium-driver (.ci/run does)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def open_page(browser: object, url: str, height: int = 1100):
    page = browser.new_page(viewport={"width": 1700, "height": height})  # type: ignore[attr-defined]
    page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(1500)
    skip = page.get_by_role("button", name="Skip")  # the first-visit community dialog
    if skip.count():
        skip.click()
        page.wait_for_timeout(300)
    return page


def graph_nodes(page) -> list[str]:
    """Asset names drawn in the lineage graph (node labels are the first line of each node)."""
    texts = [
        page.locator("foreignObject").nth(i).text_content() or "" for i in range(page.locator("foreignObject").count())
    ]
    return [re.split(r"Latest event", t)[0] for t in texts if t]


def show_all_upstream(page) -> None:
    page.get_by_role("button", name="Upstream").click()
    page.get_by_role("button", name="All", exact=True).click()
    page.wait_for_timeout(2500)


def test_global_lineage_shows_the_tiers_in_order(browser: object, dagster_ui: str) -> None:
    page = open_page(browser, f"{dagster_ui}/asset-groups")
    groups = [re.sub(r"\d+$", "", n) for n in graph_nodes(page)]
    assert {"sources", "kafka", "bronze", "silver", "gold"} <= set(groups), groups
    page.screenshot(path=str(SHOTS / "01-global-lineage.png"))


def test_simulators_feed_topics_feed_bronze(browser: object, dagster_ui: str) -> None:
    page = open_page(browser, f"{dagster_ui}/assets/ingestion_metrics?view=lineage")
    show_all_upstream(page)
    nodes = graph_nodes(page)
    for name in SIMULATORS + TOPICS + BRONZE:
        assert name in nodes, (name, nodes)
    page.screenshot(path=str(SHOTS / "02-sources-kafka-bronze.png"))


def test_gold_lineage_reaches_back_to_the_simulators(browser: object, dagster_ui: str) -> None:
    page = open_page(browser, f"{dagster_ui}/assets/gold_daily_summary?view=lineage", height=3200)
    show_all_upstream(page)
    nodes = graph_nodes(page)
    # Every tier appears upstream of the daily summary (the graph draws what fits the viewport).
    for tier in (
        "gold_hourly_aggregates",
        "silver_clickstream_sessions",
        "silver_enriched_app_events",
        "bronze_app_events",
        "topic_app_events",
    ):
        assert tier in nodes, (tier, nodes)
    assert any(n.endswith("_simulator") for n in nodes), nodes
    page.screenshot(path=str(SHOTS / "03-gold-lineage.png"))


def test_bronze_page_shows_ingestion_metrics_and_check_results(browser: object, dagster_ui: str) -> None:
    page = open_page(browser, f"{dagster_ui}/assets/bronze_app_events", height=2600)
    text = page.inner_text("body")
    assert "Latest materialization" in text
    for metric in (
        "consumed",
        "messages_per_s",
        "kafka_latency_p99_ms",
        "event_latency_p95_ms",
        "error_rate",
        "remaining_lag",
    ):
        assert metric in text, metric
    page.screenshot(path=str(SHOTS / "04-bronze-metrics.png"), full_page=True)

    checks = open_page(browser, f"{dagster_ui}/assets/bronze_app_events?view=checks")
    text = checks.inner_text("body")
    for check in (
        "consumed_equals_valid_plus_invalid",
        "offsets_contiguous",
        "no_duplicate_event_id",
        "schema_matches_contract",
        "error_rate",
    ):
        assert check in text, check
    assert text.count("Succeeded") >= 5
    checks.screenshot(path=str(SHOTS / "05-bronze-checks.png"))


def test_schedules_and_sensors_are_listed_and_running(browser: object, dagster_ui: str) -> None:
    page = open_page(browser, f"{dagster_ui}/automation", height=1000)
    text = page.inner_text("body")
    expected = [
        "hourly_aggregates_schedule",
        "daily_summary_schedule",
        "user_segments_schedule",
        "app_events_kafka_sensor",
        "cdc_changes_kafka_sensor",
        "clickstream_kafka_sensor",
        "external_data_kafka_sensor",
        "silver_automation_sensor",
    ]
    for name in expected:
        assert name in text, name
    switches = page.locator("label[class*='formatSwitch'] input[type='checkbox']")  # the on/off toggles
    states = [switches.nth(i).is_checked() for i in range(switches.count())]
    assert len(states) >= len(expected) and all(states), states
    page.screenshot(path=str(SHOTS / "06-automation.png"))


def test_health_is_green_with_the_daemon_running(dagster_ui: str, materialized_platform: MaterializedPlatform) -> None:
    """`dataplat health` against the same platform, while `dagster dev` runs the daemon."""
    time.sleep(5)  # a first heartbeat from every daemon
    result = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "dataplat"), "health"],
        cwd=materialized_platform.root,
        env=materialized_platform.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for row in ("broker", "topic_app_events_dlq", "bronze_app_events", "jars", "SENSOR", "SCHEDULER", "healthy"):
        assert row in result.stdout, row
