"""deploy/ validated as far as this machine allows (no container engine and no Kubernetes cluster run
here; deploy/README.md says so): the compose file against the Compose Specification's schema, the
manifests against Kubernetes' own schemas (strict: an unknown field fails), the alerting rules with
promtool (checked and unit-tested), the Grafana dashboard's queries against the metrics sealguard
really exports, and a real Prometheus scraping a running monitor with those rules loaded."""

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml

from sealguard.embedded.servers import MqttBroker, free_port
from sealguard.metrics import Metrics
from tests.live.monitor import running, settings
from tests.live.servers import wait_for

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
K8S_VERSION = "1.32.0"


def test_the_compose_file_is_valid_compose_and_runs_every_role() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    out = subprocess.run([str(checker), "--schemafile", str(DEPLOY / "schemas" / "compose-spec.json"),
                          str(DEPLOY / "compose.yaml")], capture_output=True, text=True, check=False)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    commands = {name: svc.get("command") for name, svc in compose["services"].items()}
    for role in ("gateway", "worker", "notifier", "api"):
        assert commands[role] == [role]
    assert compose["services"]["worker"]["deploy"]["replicas"] >= 2
    assert {"postgres", "kafka", "mosquitto", "prometheus", "grafana"} <= set(compose["services"])


def test_a_broken_compose_file_is_refused(tmp_path: Path) -> None:
    """The schema check can fail: a service with an unknown key is rejected."""
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  worker:\n    image: x\n    replica: 3\n")
    checker = Path(sys.executable).parent / "check-jsonschema"
    out = subprocess.run([str(checker), "--schemafile", str(DEPLOY / "schemas" / "compose-spec.json"), str(bad)],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert out.returncode != 0 and "replica" in out.stdout + out.stderr


def _manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_the_kubernetes_manifests_match_the_kubernetes_schemas_strictly() -> None:
    docs = _manifests()
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == {f"sealguard-{r}" for r in ("gateway", "worker", "notifier", "api")}
    for name, d in deployments.items():
        (container,) = d["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["resources"]["requests"] and container["resources"]["limits"], name
        assert {"secretRef": {"name": "sealguard"}} in container["envFrom"], name
    budgets = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert any(b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "worker" for b in budgets)


def test_a_manifest_with_an_unknown_field_is_refused() -> None:
    doc = next(d for d in _manifests() if d["kind"] == "Deployment")
    doc["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_kustomize_renders_the_manifests() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (the schema test above validates the manifests)")
    out = subprocess.run([kubectl, "kustomize", str(DEPLOY / "k8s")], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(out.stdout) if d]
    assert kinds.count("Deployment") == 4 and "Job" in kinds


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian package prometheus)")
def test_the_alerting_rules_pass_promtool_check_and_their_unit_tests() -> None:
    assert PROMTOOL is not None
    rules = DEPLOY / "prometheus"
    check = subprocess.run([PROMTOOL, "check", "rules", str(rules / "sealguard-rules.yml")], capture_output=True,
                           text=True, check=False)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    unit = subprocess.run([PROMTOOL, "test", "rules", "sealguard-rules.test.yml"], cwd=rules, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert unit.returncode == 0 and "SUCCESS" in unit.stdout, unit.stdout + unit.stderr


def _exported() -> set[str]:
    names = set()
    for collector in Metrics().registry.collect():
        names.add(collector.name)
        names.update(sample.name for sample in collector.samples)
    return names


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\bsealguard_[a-z_]+", expr))


def test_the_dashboard_and_the_rules_only_query_metrics_sealguard_exports() -> None:
    exported = _exported()
    # histograms export _bucket/_sum/_count, counters _total; the collectors' base names are in `exported`
    exported |= {f"{n}_bucket" for n in exported} | {f"{n}_total" for n in exported}
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "sealguard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((DEPLOY / "prometheus" / "sealguard-rules.yml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    used = set().union(*(_metric_names(e) for e in exprs))
    assert used and used <= exported, used - exported
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (Debian package prometheus)")
async def test_a_real_prometheus_scrapes_a_running_monitor_and_loads_the_rules(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    assert PROMETHEUS is not None
    s = settings(tmp_path, database_url, mqtt_broker)
    port = free_port()
    config = tmp_path / "prometheus.yml"
    shutil.copy(DEPLOY / "prometheus" / "sealguard-rules.yml", tmp_path / "sealguard-rules.yml")
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["sealguard-rules.yml"],
        "scrape_configs": [{"job_name": "sealguard", "static_configs": [{"targets": [s.http]}]}],
    }))  # fmt: skip
    async with running(s):
        with tempfile.TemporaryDirectory(dir=tmp_path) as data, (tmp_path / "prometheus.log").open("wb") as log:
            proc = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={data}",
                                     f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log)  # fmt: skip
            try:
                base = f"http://127.0.0.1:{port}/api/v1"

                async def scraped() -> bool:
                    try:
                        async with httpx.AsyncClient() as c:
                            r = await c.get(f"{base}/query", params={"query": 'sealguard_database_up{job="sealguard"}'})
                    except httpx.HTTPError:
                        return False
                    result = r.json().get("data", {}).get("result", []) if r.status_code == 200 else []
                    return bool(result) and result[0]["value"][1] == "1"

                await wait_for(scraped, timeout=60, what="Prometheus to scrape the monitor")
                async with httpx.AsyncClient() as c:
                    targets = (await c.get(f"{base}/targets")).json()["data"]["activeTargets"]
                    rules = (await c.get(f"{base}/rules")).json()["data"]["groups"]
                assert [t["health"] for t in targets] == ["up"]
                names = {r["name"] for g in rules for r in g["rules"]}
                assert {"SealguardDown", "SealguardDatabaseDown", "SealguardConsumerLagGrowing"} <= names
            finally:
                proc.terminate()
                proc.wait(10)
