"""Copy the tool schema files kept beside the functions' code (functions/*/tools.json) into the
layer, under agentgw_schemas/ at the same relative path: provisioning, the health check and the
custom resource read them there on Lambda (agentgw.provisioning.tool_schemas.resolve).

Usage: bundle_tool_schemas.py PROJECT_ROOT LAYER_PYTHON_DIR
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

BUNDLE = "agentgw_schemas"


def bundle(project: Path, layer_python: Path) -> list[str]:
    if not (project / "template.yaml").is_file():
        raise SystemExit(f"bundle_tool_schemas: {project} is not the project root (no template.yaml)")
    copied = []
    for source in sorted((project / "functions").glob("*/tools.json")):
        relative = source.relative_to(project)
        json.loads(source.read_text("utf-8"))  # a broken file fails the build, not the deploy
        target = layer_python / BUNDLE / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copied.append(str(relative))
    return copied


if __name__ == "__main__":
    names = bundle(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"bundled {len(names)} tool schema files: {', '.join(names) or 'none'}")
