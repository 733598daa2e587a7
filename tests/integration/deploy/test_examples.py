"""deploy/: example configs pass `edgewatch config check`, systemd units verify and load
every credential the configs point at, compose and Kubernetes manifests hold together,
and the health probe they use answers against a real store over mutual TLS."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.deployment import init_deployment
from tests.support.loadgen import Deployment, serving

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
EXAMPLES = sorted((DEPLOY / "examples").glob("*.yaml"))
UNITS = {p.name: p for p in (DEPLOY / "systemd").glob("*.service")}
K8S = DEPLOY / "k8s"
INSTALLED = "/opt/edgewatch/venv/bin/edgewatch"
#: systemd < 254 does not know the exponential restart backoff keys (harmless there)
NEW_KEYS = ("RestartSteps", "RestartMaxDelaySec")


def config_check(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", "config", "check", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """systemd unit syntax: sections of keys that may repeat (every value kept)."""
    out: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {raw!r}"
        out[section][key.strip()].append(value.strip())
    return out


def unit(name: str, *dropins: str) -> dict[str, dict[str, list[str]]]:
    text = UNITS[name].read_text()
    for d in dropins:
        text += "\n" + (DEPLOY / "systemd" / f"{name}.d" / d).read_text()
    return parse_unit(text)


def strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return [node] if isinstance(node, str) else []


def load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def k8s_objects() -> dict[tuple[str, str], dict[str, Any]]:
    objs = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in load_all(path):
            objs[(doc["kind"], doc["metadata"]["name"] if "metadata" in doc else path.name)] = doc
    return objs


# -- configs ----------------------------------------------------------------------


def test_every_example_config_passes_config_check(tmp_path: Path) -> None:
    assert {p.name for p in EXAMPLES} >= {
        "store.yaml",
        "store-postgres.yaml",
        "gateway.yaml",
        "gateway-16.yaml",
        "client.yaml",
    }
    embedded = tmp_path / "k8s-store.yaml"
    embedded.write_text(
        k8s_objects()[("ConfigMap", "edgewatch-store-config")]["data"]["store.yaml"]
    )
    configs = [*EXAMPLES, DEPLOY / "compose" / "store.yaml", embedded]
    r = config_check(*configs)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": ok") == len(configs)
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in configs}
    assert kinds == {"store", "gateway", "client"}


def test_config_check_would_catch_a_broken_example(tmp_path: Path) -> None:
    data = yaml.safe_load((DEPLOY / "examples" / "gateway.yaml").read_text())
    data["cameras"][0]["analysis"]["face_detect_fps"] = 0
    bad = tmp_path / "gateway.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True))
    r = config_check(bad)
    assert r.returncode == 1 and "cameras.0.analysis.face_detect_fps" in r.stderr


# -- systemd ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["edgewatch-gateway.service", "edgewatch-store.service"])
def test_unit_has_restart_policy_and_hardening(name: str) -> None:
    svc = unit(name)["Service"]
    one = {k: v[-1] for k, v in svc.items()}
    assert one["Restart"] in ("always", "on-failure") and one["RestartSec"]
    assert {"RestartSteps", "RestartMaxDelaySec"} <= set(one)
    assert unit(name)["Unit"]["StartLimitIntervalSec"] == ["0"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "AmbientCapabilities": "",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "SystemCallArchitectures": "native",
        "UMask": "0077",
    }.items():
        assert one.get(key) == value, f"{name}: {key}={one.get(key)!r}"
    assert one["MemoryMax"] and one["User"] == "edgewatch" and svc["LoadCredential"]
    assert one["ExecStart"].startswith(INSTALLED) and one["KillSignal"] == "SIGTERM"


@pytest.mark.parametrize(
    ("example", "name", "dropins"),
    [
        ("gateway.yaml", "edgewatch-gateway.service", ()),
        ("store.yaml", "edgewatch-store.service", ()),
        ("store-postgres.yaml", "edgewatch-store.service", ("postgres.conf",)),
    ],
)
def test_unit_serves_its_example_config(example: str, name: str, dropins: tuple[str, ...]) -> None:
    """Every /run/credentials path in the config is loaded by the unit, the unit runs
    /etc/edgewatch/<kind>.yaml, and the writable paths cover the data the config names."""
    cfg = yaml.safe_load((DEPLOY / "examples" / example).read_text())
    text = "\n".join(strings(cfg))  # values only, not comments
    svc = unit(name, *dropins)["Service"]
    loaded = {c.partition(":")[0] for c in svc["LoadCredential"]}
    wanted = set(re.findall(rf"/run/credentials/{re.escape(name)}/([\w.-]+)", text))
    assert wanted and wanted <= loaded, f"{name} does not load {wanted - loaded}"
    assert "/run/credentials/" not in text.replace(f"/run/credentials/{name}/", "")
    assert f"--config /etc/edgewatch/{cfg['kind']}.yaml" in svc["ExecStart"][-1]
    writable = [Path(p) for v in svc["ReadWritePaths"] for p in v.split()]
    state = [Path("/var/lib") / p for v in svc["StateDirectory"] for p in v.split()]
    if cfg["kind"] == "gateway":
        data = [Path(cfg["data_dir"])]
    else:
        data = []  # PostgreSQL: nothing on local disk
        if cfg["database"]["kind"] == "sqlite":
            data.append(Path(cfg["database"]["path"]).parent)
    for d in data:
        assert any(d.is_relative_to(w) for w in writable), f"{d} is not writable for {name}"
        assert any(d.is_relative_to(s) for s in state), f"{d} is not in a StateDirectory"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify wants the executables to exist: point them at this checkout's install
    edgewatch = Path(sys.executable).with_name("edgewatch")
    assert edgewatch.exists()
    for name, path in UNITS.items():
        (tmp_path / name).write_text(path.read_text().replace(INSTALLED, str(edgewatch)))
        dropins = DEPLOY / "systemd" / f"{name}.d"
        if dropins.is_dir():
            shutil.copytree(dropins, tmp_path / f"{name}.d")
    r = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(tmp_path / n) for n in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    version = int(re.search(r"systemd (\d+)", _systemd_version()).group(1))  # type: ignore[union-attr]
    problems = [
        line
        for line in r.stderr.splitlines()
        if line.strip() and not (version < 254 and any(f"'{k}'" in line for k in NEW_KEYS))
    ]
    assert problems == []


def _systemd_version() -> str:
    return subprocess.run(
        ["systemd-analyze", "--version"], capture_output=True, text=True, timeout=30
    ).stdout


# -- compose ----------------------------------------------------------------------


def test_compose_store_and_postgres() -> None:
    (compose,) = load_all(DEPLOY / "compose.yaml")
    services = compose["services"]
    assert set(services) == {"store", "postgres"}
    pg, store = services["postgres"], services["store"]
    assert pg["image"].startswith("postgres:") and "ports" not in pg
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert store["image"] and store["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY.parent / store["build"]["context"].replace("..", ".")).is_dir()
    assert store["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert store["healthcheck"]["test"][1] == "edgewatch-healthcheck"
    assert store["read_only"] is True and store["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in store["security_opt"]
    assert any(v.startswith("pgdata:") for v in pg["volumes"])
    assert set(compose["volumes"]) >= {"pgdata"}
    used = set(store["secrets"]) | set(pg["secrets"])
    assert used <= set(compose["secrets"])
    mounted = {v.split(":")[0] for v in store["volumes"]}
    assert "./compose/store.yaml" in mounted and (DEPLOY / "compose" / "store.yaml").is_file()
    cfg = yaml.safe_load((DEPLOY / "compose" / "store.yaml").read_text())
    assert cfg["database"]["url"].startswith("postgresql://edgewatch@postgres:5432/")
    assert "PGPASSWORD" in " ".join(store["command"])
    secret_paths = re.findall(
        r"/run/secrets/(\w+)", (DEPLOY / "compose" / "store.yaml").read_text()
    )
    assert set(secret_paths) <= set(store["secrets"])


# -- kubernetes -------------------------------------------------------------------


def test_k8s_store_manifests_hold_together() -> None:
    objs = k8s_objects()
    dep = objs[("Deployment", "edgewatch-store")]
    pod = dep["spec"]["template"]
    spec = pod["spec"]
    (c,) = spec["containers"]
    assert c["image"] and spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert c["resources"]["limits"]["memory"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        cmd = c[probe]["exec"]["command"]
        assert cmd[0] == "edgewatch-healthcheck" and "--addr=127.0.0.1:7443" in cmd
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert {m["name"] for m in c["volumeMounts"]} == set(volumes)
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for v in volumes.values()
        if "persistentVolumeClaim" in v
    }
    assert claims and all(("PersistentVolumeClaim", n) in objs for n in claims)
    secrets = {v["secret"]["secretName"] for v in volumes.values() if "secret" in v}
    secrets |= {e["valueFrom"]["secretKeyRef"]["name"] for e in c["env"] if "valueFrom" in e}
    assert all(("Secret", n) in objs for n in secrets), secrets
    maps = {v["configMap"]["name"] for v in volumes.values() if "configMap" in v}
    assert all(("ConfigMap", n) in objs for n in maps)
    svc = objs[("Service", "edgewatch-store")]
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    ports = {p["name"] for p in c["ports"]}
    assert {p["targetPort"] for p in svc["spec"]["ports"]} <= ports
    cfg = yaml.safe_load(objs[("ConfigMap", "edgewatch-store-config")]["data"]["store.yaml"])
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    for path in (cfg["tls"]["cert"], cfg["tls"]["key"], cfg["vision"]["models_dir"]):
        assert any(Path(path).is_relative_to(m) for m in mounts), path
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert "secret.example.yaml" not in kust["resources"]
    assert all((K8S / r).is_file() for r in kust["resources"])


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl")
def test_kustomize_renders() -> None:
    r = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(r.stdout) if d]
    assert sorted(kinds) == sorted(
        [
            "Namespace",
            "ConfigMap",
            "PersistentVolumeClaim",
            "Deployment",
            "Service",
        ]
    )


# -- the health probe against a real store ------------------------------------------


def probe(
    dep: Path, address: str, *extra: str, key: str = "viewer"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(DEPLOY / "healthcheck.py"),
            f"--addr={address}",
            f"--ca={dep / 'ca.pem'}",
            f"--cert={dep / f'{key}.pem'}",
            f"--key={dep / f'{key}.key'}",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_healthcheck_probe_against_a_real_store(tmp_path: Path) -> None:
    address, _ = init_deployment(tmp_path / "dep", gateways=1)
    other, _ = init_deployment(tmp_path / "other", gateways=1)
    dep = tmp_path / "dep"
    with serving(Deployment(dep, address)):
        ok = probe(dep, address)
        assert ok.returncode == 0 and ok.stdout.strip() == "SERVING", ok.stderr
        ingest = probe(dep, address, "--service=edge.v1.Ingest", "--server-name=localhost")
        assert ingest.returncode == 0, ingest.stderr
        unknown = probe(dep, address, "--service=edge.v1.Nothing")
        assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stderr
        # a certificate of another deployment's CA is refused in the TLS handshake
        foreign = subprocess.run(
            [sys.executable, str(DEPLOY / "healthcheck.py"), f"--addr={address}",
             f"--ca={dep / 'ca.pem'}", f"--cert={tmp_path / 'other' / 'viewer.pem'}",
             f"--key={tmp_path / 'other' / 'viewer.key'}", "--timeout=5"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert foreign.returncode == 1 and "unhealthy" in foreign.stderr
    assert other
    down = probe(dep, address, "--timeout=2")
    assert down.returncode == 1 and "UNAVAILABLE" in down.stderr
