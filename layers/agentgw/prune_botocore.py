"""Remove botocore's service models that no agentgw function uses, from a built layer.

    python prune_botocore.py LAYER_PYTHON_DIR

botocore ships a model for every AWS service (~440 directories, ~19 of the layer's ~76 MB);
the functions create clients for the services in `SERVICES` only. Pruning the rest keeps each
function with the layer under 100 MB unzipped once the layer also carries `.pyc` files for
python3.13 (~27 MB; see the Makefile). `tests/unit/provisioning/test_layer_botocore.py` checks
that every client the functions create is listed here and loads from a pruned copy.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

SERVICES = frozenset(
    {
        # Provisioning: the gateway, its Cognito authorizer, IAM scoping, vended logs delivery.
        "bedrock-agentcore-control",
        "cognito-idp",
        "iam",
        "logs",
        # The published configuration and the client secret (also Powertools' SSM/Secrets providers).
        "ssm",
        "secretsmanager",
        # The agent: Bedrock models (Strands' BedrockModel) and conversations (S3SessionManager).
        "bedrock-runtime",
        "s3",
        # The custom resource starts the provisioning workflow.
        "stepfunctions",
        # Not called by our code, kept because the SDKs may: credential providers that assume a
        # role (sts) and the X-Ray SDK's sampler outside Lambda (xray).
        "sts",
        "xray",
    }
)


def prune(layer_python: Path) -> list[str]:
    """Delete the model directories of services not in SERVICES; returns their names."""
    data = layer_python / "botocore" / "data"
    if not data.is_dir():
        raise SystemExit(f"no botocore/data under {layer_python}: is this the layer's python directory?")
    present = {p.name for p in data.iterdir() if p.is_dir()}
    missing = SERVICES - present
    if missing:  # a renamed or dropped model would otherwise surface at run time, in AWS
        raise SystemExit(f"botocore has no model for {', '.join(sorted(missing))}")
    removed = sorted(present - SERVICES)
    for name in removed:
        shutil.rmtree(data / name)
    return removed


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit(__doc__.strip().splitlines()[2].strip())
    removed = prune(Path(argv[0]))
    print(f"botocore: kept {len(SERVICES)} service models, removed {len(removed)}")


if __name__ == "__main__":
    main(sys.argv[1:])
