"""SnapStart: the agent function's runtime hooks (run as Lambda's runtime runs them) and the
template wiring (published versions behind an alias that the API invokes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from agentgw.agent import models

ROOT = Path(__file__).resolve().parents[3]
FUNCTION_DIR = ROOT / "functions" / "agent"

# A fresh interpreter: whether a module was imported must not depend on other tests. The hooks
# are called from snapshot_restore_py's registries in the runtime's order (before snapshot:
# reverse registration order; after restore: registration order).
CHILD = """
import json, random, sys
sys.path.insert(0, {function_dir!r})
import app
import snapshot_restore_py as hooks
from agentgw.config import GatewayConfig

out = {{
    "before": [f.__name__ for f, _, _ in hooks._before_snapshot_registry],
    "after": [f.__name__ for f, _, _ in hooks._after_restore_registry],
    "openai_at_import": "strands.models.openai" in sys.modules,
}}
for func, args, kwargs in reversed(hooks._before_snapshot_registry):
    func(*args, **kwargs)
out["openai_in_snapshot"] = "strands.models.openai" in sys.modules

# What a snapshot could hold: a token cache, the PRNG state.
config = GatewayConfig(gateway_id="g", gateway_url="http://127.0.0.1:9/mcp", region="us-east-1",
                       token_url="http://127.0.0.1:9/oauth2/token", discovery_url="http://127.0.0.1:9/d",
                       client_id="client", scope="agentgw/invoke", client_secret_arn="arn:secret")
captured = app.service.credentials.token_cache(config, 60)
random.seed(1234)
snapshot_draw = random.random()
random.seed(1234)
for func, args, kwargs in hooks._after_restore_registry:
    func(*args, **kwargs)
out["token_cache_dropped"] = app.service.credentials.token_cache(config, 60) is not captured
out["reseeded"] = random.random() != snapshot_draw
print(json.dumps(out))
"""


def run_hooks(provider: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTGW_", "AWS_LAMBDA_"))}
    env.update(
        {"AGENTGW_MODEL_PROVIDER": provider, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(function_dir=str(FUNCTION_DIR))],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=FUNCTION_DIR,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_hooks_prime_the_configured_provider_and_drop_what_restores_must_not_share() -> None:
    result = run_hooks("openai")
    assert result["before"] == ["before_snapshot"]
    assert result["after"] == ["after_restore"]
    # Lazy without SnapStart, in the snapshot with it.
    assert result["openai_at_import"] is False
    assert result["openai_in_snapshot"] is True
    assert result["token_cache_dropped"] is True
    assert result["reseeded"] is True


def test_a_bedrock_function_never_imports_the_openai_client() -> None:
    result = run_hooks("bedrock")
    assert result["openai_at_import"] is False
    assert result["openai_in_snapshot"] is False


def test_preload_imports_each_provider_module_and_ignores_registered_ones() -> None:
    for provider, module in models.PROVIDER_MODULES.items():
        models.preload(provider)
        assert module in sys.modules, provider
    models.preload("scripted-by-a-test")  # run-time providers bring their own code: nothing to do


def test_preload_knows_every_built_in_provider() -> None:
    from agentgw.agent.settings import PROVIDERS

    assert set(models.PROVIDER_MODULES) == set(PROVIDERS)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = cfn_yaml.load(str(ROOT / "template.yaml"))
    return loaded


def test_agent_function_snapstart_follows_the_parameter(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["AgentSnapStart"]
    assert parameter["Default"] == "PublishedVersions"
    assert sorted(parameter["AllowedValues"]) == ["None", "PublishedVersions"]
    props = template["Resources"]["AgentFunction"]["Properties"]
    assert props["SnapStart"] == {"ApplyOn": {"Ref": "AgentSnapStart"}}
    # SnapStart applies to published versions only: every deploy publishes one behind an alias.
    assert props["AutoPublishAlias"] == "live"


def test_the_api_invokes_the_alias_not_latest(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    integration = resources["AgentApi"]["Properties"]["DefinitionBody"]["paths"]["/prompt"]["post"][
        "x-amazon-apigateway-integration"
    ]
    assert integration["uri"] == {"Ref": "AgentFunction.Alias"}
    assert resources["AgentApiInvokePermission"]["Properties"]["FunctionName"] == {
        "Ref": "AgentFunction.Alias"
    }
