"""The deploy examples stay true to the hub: the Prometheus rules pass `promtool` and
every metric the rules and the Grafana dashboard name is one `/metrics` exposes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from stockbridge.api.app import create_app
from stockbridge.app.bootstrap import bootstrap
from stockbridge.app.clock import ManualClock
from tests.conftest import START, LiveServer, hub_settings, make_store

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "stockbridge-rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "stockbridge.json"
METRIC = re.compile(r"\bstockbridge_[a-z0-9_]+")


def test_the_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("STOCKBRIDGE_REQUIRE_PROMTOOL") == "1":
            pytest.fail("promtool is required (STOCKBRIDGE_REQUIRE_PROMTOOL=1) but not on PATH")
        pytest.skip(
            "promtool not on PATH: install Prometheus (apt-get install prometheus) "
            "or set STOCKBRIDGE_REQUIRE_PROMTOOL=1 to make this a failure"
        )
    done = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def named_in_examples() -> set[str]:
    names = set(METRIC.findall(RULES.read_text()))
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            names.update(METRIC.findall(target["expr"]))
    return names


def exposed(text: str) -> set[str]:
    """Every series name a scrape can hold, samples or not (counters' `_total`,
    histograms' `_bucket`, `_sum` and `_count`)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(s.name for s in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_sum", "_count"))
    return names


def test_every_metric_in_the_rules_and_dashboard_is_exposed(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = make_store("sqlite", tmp_path, request)
    hub = bootstrap(hub_settings(), store=store, clock=ManualClock(START))
    # Given the examples' metric names
    wanted = named_in_examples()
    assert "stockbridge_sla_compliance_ratio" in wanted
    # When the hub is scraped
    live = LiveServer(create_app(hub)).start()
    try:
        r = httpx.get(live.url + "/metrics", timeout=30)
    finally:
        live.stop()
        hub.close()
    assert r.status_code == 200
    # Then each one is there
    missing = sorted(wanted - exposed(r.text))
    assert not missing, f"named in deploy/ but not exposed: {missing}"
