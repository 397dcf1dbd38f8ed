"""Operating AutoRKE: every metric the Grafana dashboard (deploy/grafana) and the
Prometheus alert rules (deploy/prometheus) use is exported on some service's /metrics,
and the database-read gauges show real values once the service's tables exist (each
service app built as ``autorke up`` builds it, with its migrations run on its own SQLite
file; no bus is needed to scrape)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from autorke_common.db import migrate

from .test_m13_body_limits import SERVICES

ROOT = Path(__file__).resolve().parents[3]
#: PromQL words that are not metric names
PROMQL = {"sum", "by", "max", "rate", "delta", "histogram_quantile", "job", "status", "le", "consumer"}


def used_metrics() -> set[str]:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "autorke-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    names = set()
    for expr in exprs:
        names |= {w for w in re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", re.sub(r"\[[^\]]*\]|\"[^\"]*\"", "", expr))
                  if w not in PROMQL and not w.isdigit()}
    return names


def scrape(service: str, tmp_path: Path) -> str:
    app = SERVICES[service][0](tmp_path)
    runtime = app.state.runtime
    migrate(runtime.engine, runtime.migrations, runtime.metadata)  # its tables, as a start would make
    r = TestClient(app).get("/metrics")
    assert r.status_code == 200, r.text
    return r.text


def exported(text: str) -> set[str]:
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def test_every_metric_of_the_dashboard_and_the_alerts_is_exported(tmp_path):
    texts = {s: scrape(s, tmp_path / s) for s in SERVICES}
    have = set().union(*(exported(t) for t in texts.values()))
    wanted = {re.sub(r"_(bucket|sum|count|total)$", "", name) for name in used_metrics()}
    have |= {re.sub(r"_(total)$", "", name) for name in have}
    assert wanted, "the dashboard names metrics"
    assert wanted <= have, f"used but exported by no service: {sorted(wanted - have)}"
    assert "autorke_outbox_parked 0.0" in texts["inventory"], texts["inventory"][-1500:]
    assert 'autorke_jobs_running 0.0' in texts["executor"]
    assert "autorke_change_oldest_open_age_seconds 0.0" in texts["orchestrator"]


def test_the_alert_rules_are_well_formed():
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    for rule in (r for g in rules["groups"] for r in g["rules"]):
        assert rule["alert"].startswith("AutoRKE") and rule["expr"] and rule["annotations"]["summary"]
        assert rule["labels"]["severity"] in ("info", "warning", "critical")


def test_consumer_lag_and_redeliveries_are_read_from_jetstream(tmp_path, fresh_nats):
    """The orchestrator started against a real NATS server: its durable consumers' counts
    (lag, unacked, redelivered) are read from JetStream and exported per consumer."""
    from autorke_orchestrator.bootstrap import OrchestratorSettings, create_app
    from fixtures.signing import service_settings
    from fixtures.waiting import wait

    settings = OrchestratorSettings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/o.db",
                                    nats_url=fresh_nats.url, trace_exporter="none",
                                    **service_settings("orchestrator"))
    app = create_app(settings, configure_process=False)
    with TestClient(app) as client:
        runtime = app.state.runtime
        def read() -> bool:
            client.portal.call(runtime.read_consumer_stats)
            return "orchestrator-executor" in runtime.consumer_stats
        wait(read, 30, "consumer counts read")
        text = client.get("/metrics").text
    assert 'autorke_consumer_pending{consumer="orchestrator-executor"} 0.0' in text, text[-2000:]
    assert 'autorke_consumer_redelivered{consumer="orchestrator-executor"}' in text
