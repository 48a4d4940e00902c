"""The layer keeps botocore models only for the services its functions call
(`layers/agentgw/prune_botocore.py`): every client the code creates is listed, and loads from a
pruned botocore; a pruned service really is gone."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import botocore
import pytest

ROOT = Path(__file__).resolve().parents[3]
LAYER = ROOT / "layers" / "agentgw"
SOURCES = [LAYER / "python" / "agentgw", ROOT / "functions"]
# Clients made for us by libraries, not by a `client("...")` call in our code.
INDIRECT = {
    "ssm": "Powertools SSMProvider (agent configuration, health check)",
    "secretsmanager": "Powertools SecretsProvider (client secret, OpenAI key)",
    "bedrock-runtime": "Strands BedrockModel",
    "s3": "Strands S3SessionManager",
}
CLIENT_CALL = re.compile(r"""\bclient\(\s*["']([a-z0-9-]+)["']""")


def load_pruner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("prune_botocore", LAYER / "prune_botocore.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pruner = load_pruner()


def services_called_in_code() -> set[str]:
    found: set[str] = set()
    for base in SOURCES:
        for path in base.rglob("*.py"):
            found.update(CLIENT_CALL.findall(path.read_text("utf-8")))
    return found


def test_the_scan_finds_the_clients_it_should() -> None:
    # If the pattern stopped matching, the next test would pass on nothing.
    assert {"bedrock-agentcore-control", "cognito-idp", "iam", "ssm", "stepfunctions", "logs"} <= (
        services_called_in_code()
    )


def test_every_client_the_functions_create_keeps_its_model() -> None:
    needed = services_called_in_code() | set(INDIRECT)
    assert needed - pruner.SERVICES == set()


def test_layer_pins_the_botocore_tested_here() -> None:
    pins = dict(
        line.split("==", 1)
        for line in (LAYER / "requirements.txt").read_text("utf-8").splitlines()
        if "==" in line
    )
    assert pins["botocore"] == botocore.__version__


@pytest.fixture(scope="module")
def pruned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layer = tmp_path_factory.mktemp("layer")
    shutil.copytree(
        Path(botocore.__file__).parent, layer / "botocore", ignore=shutil.ignore_patterns("__pycache__")
    )
    removed = pruner.prune(layer)
    assert "ec2" in removed and len(removed) > 300
    return layer


CHILD = """
import json, sys
sys.path.insert(0, {layer!r})
import boto3, botocore
from botocore.exceptions import UnknownServiceError
assert botocore.__file__.startswith({layer!r}), botocore.__file__
session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
loaded = {{}}
for name in {services!r}:
    client = session.client(name)
    loaded[name] = client.meta.service_model.service_name
try:
    session.client("ec2")
    gone = False
except UnknownServiceError:
    gone = True
print(json.dumps({{"loaded": loaded, "ec2_gone": gone, "available": session.get_available_services()}}))
"""


def test_each_kept_client_loads_from_the_pruned_layer_and_the_rest_is_gone(pruned: Path) -> None:
    services = sorted(pruner.SERVICES)
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(layer=str(pruned), services=services)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(result["loaded"]) == services
    assert result["ec2_gone"] is True
    assert sorted(result["available"]) == services


def test_prune_refuses_a_directory_without_botocore(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no botocore/data"):
        pruner.prune(tmp_path)


def test_prune_refuses_when_a_needed_model_is_missing(tmp_path: Path) -> None:
    data = tmp_path / "botocore" / "data"
    for name in sorted(pruner.SERVICES)[1:]:
        (data / name).mkdir(parents=True)
    with pytest.raises(SystemExit, match=sorted(pruner.SERVICES)[0]):
        pruner.prune(tmp_path)
