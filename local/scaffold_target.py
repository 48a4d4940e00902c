"""`agentgw targets new NAME`: scaffold a Lambda target the way `sam init` scaffolds an app.

Writes functions/<name>/ (handler on the library's dispatch, tools.json with one example tool,
Makefile), sample events, a unit test, and the template.yaml entries (the function and the
target declaration). The new template is checked (parsed, the declaration and schema preflight,
cfn-lint) before it replaces the old one in one rename; on any failure every file written is
removed and the template is left as it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agentgw.provisioning.errors import InvalidInput
from agentgw.provisioning.names import check_target_name
from agentgw_local.declared_targets import preflight, raw_targets
from agentgw_local.template import Template, TemplateError

ROLE_MARKER = "  GatewayRole:\n"


class ScaffoldError(ValueError):
    """The target cannot be scaffolded (the message says why); nothing was changed."""


@dataclass(frozen=True)
class Scaffold:
    name: str
    logical_id: str
    files: list[Path]


def logical_id_for(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-")) + "ToolsFunction"


APP = '''"""Gateway Lambda target {name}: its tools are defined in tools.json, beside this file.

The gateway sends a tool's arguments as the event and names the tool in the client context;
`handle` validates the arguments against tools.json, runs the tool, and turns a raised ToolError
into the gateway's `isError: true` (see docs/example-tools.md for the contract).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from agentgw.tools.dispatch import Call, ToolSet, handle
from agentgw.tools.errors import InvalidArgumentsError

logger = Logger()
tracer = Tracer()


def hello(arguments: dict[str, Any], call: Call) -> dict[str, Any]:
    """The example tool: replace it with yours (and its definition in tools.json)."""
    who = arguments["name"]
    if who.lower() == "nobody":
        raise InvalidArgumentsError("Say hello to somebody: 'nobody' has no name.")
    return {{"greeting": f"Hello, {{who}}!"}}


TOOLS = ToolSet.from_file(Path(__file__).with_name("tools.json"), {{"hello": hello}}, "{name}")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, logger=logger, tracer=tracer, tools=TOOLS)
'''

TOOLS_JSON = {
    "tools": [
        {
            "name": "hello",
            "description": "Say hello to someone by name. Returns JSON with the greeting.",
            "inputSchema": {
                "type": "object",
                "properties": {"name": {"type": "string", "description": "who to greet, e.g. Ada"}},
                "required": ["name"],
            },
        }
    ]
}

MAKEFILE = """# sam build (BuildMethod: makefile) runs `make build-<LogicalId>` here with ARTIFACTS_DIR set.
# The handler and its tools.json; the dependencies are in the agentgw layer.
build-%:
\tcp *.py *.json "$(ARTIFACTS_DIR)/"
"""

TEST = '''"""The {name} target's handler, as the gateway invokes it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from agentgw.tools.errors import InvalidArgumentsError, UnknownToolError

APP = Path(__file__).resolve().parents[3] / "functions" / "{name}" / "app.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("{module}_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def context(tool: str) -> Any:
    return SimpleNamespace(
        client_context=SimpleNamespace(custom={{"bedrockAgentCoreToolName": tool}}),
        get_remaining_time_in_millis=lambda: 3000,
        aws_request_id="test-request",
        function_name="{logical_id}",
        memory_limit_in_mb=128,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:{logical_id}",
    )


def test_hello() -> None:
    app = load()
    assert app.lambda_handler({{"name": "Ada"}}, context("{name}___hello")) == {{"greeting": "Hello, Ada!"}}


def test_bad_arguments_and_unknown_tools_are_errors() -> None:
    app = load()
    with pytest.raises(InvalidArgumentsError, match="'name' is a required property"):
        app.lambda_handler({{}}, context("{name}___hello"))
    with pytest.raises(UnknownToolError):
        app.lambda_handler({{"name": "Ada"}}, context("{name}___nope"))
'''


def function_block(name: str, logical_id: str) -> str:
    return f"""  {logical_id}:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: makefile  # no Docker: see the function's Makefile
    Properties:
      Description: Gateway Lambda target {name}
      CodeUri: functions/{name}/
      Handler: app.lambda_handler
      Timeout: 30
      Environment:
        Variables:
          POWERTOOLS_SERVICE_NAME: {name}
          # Read only when an invocation carries no client context (`sam local invoke`).
          AGENTGW_FALLBACK_TOOL_NAME: ""

"""


def target_item(name: str, logical_id: str) -> str:
    return f"""        - Name: {name}
          Description: Lambda tools {name}
          TargetConfiguration:
            Mcp:
              Lambda:
                LambdaArn: !GetAtt {logical_id}.Arn
                ToolSchema:
                  File: functions/{name}/tools.json
          CredentialProviderConfigurations:
            - CredentialProviderType: GATEWAY_IAM_ROLE
"""


def edited_template(text: str, name: str, logical_id: str) -> str:
    """`text` with the function before the gateway role (and its section comment) and the target
    at the end of the Gateway's Targets list."""
    lines = text.splitlines(keepends=True)
    if ROLE_MARKER not in lines:
        raise ScaffoldError("template.yaml has no GatewayRole resource to put the function before")
    at = lines.index(ROLE_MARKER)
    while at > 0 and lines[at - 1].startswith("  #"):
        at -= 1
    text = "".join([*lines[:at], function_block(name, logical_id), *lines[at:]])
    match = re.search(r"^      Targets:\n((?:        .*\n|[ \t]*\n)+)", text, re.MULTILINE)
    if match is None:
        raise ScaffoldError("template.yaml: the Gateway resource's Targets list was not found")
    end = match.end(1)
    while text[:end].endswith("\n\n"):
        end -= 1
    return text[:end] + target_item(name, logical_id) + text[end:]


def _lint(path: Path) -> list[str]:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(path, config=ManualArgs(regions=["us-east-1"]))
    return [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches]


def create(project: Path, name: str, *, lint: bool = True) -> Scaffold:
    """Scaffold target `name` in `project` (a folder with template.yaml); raise ScaffoldError."""
    try:
        check_target_name(name)
    except InvalidInput as exc:
        raise ScaffoldError(str(exc)) from None
    if name != name.lower():
        raise ScaffoldError(f"target name {name!r}: use lowercase (it names the folder functions/{name}/)")
    template_path = project / "template.yaml"
    try:
        template = Template(template_path)
        declared = {str(item.get("Name")) for item in raw_targets(template) if isinstance(item, dict)}
    except TemplateError as exc:
        raise ScaffoldError(str(exc)) from None
    logical_id = logical_id_for(name)
    folder = project / "functions" / name
    if name in declared:
        raise ScaffoldError(f"target {name} is already declared in template.yaml")
    if logical_id in template.resources:
        raise ScaffoldError(f"template.yaml already has a resource {logical_id}")
    if folder.exists():
        raise ScaffoldError(f"{folder.relative_to(project)} already exists")
    module = name.replace("-", "_")
    files = {
        folder / "app.py": APP.format(name=name),
        folder / "tools.json": json.dumps(TOOLS_JSON, indent=2) + "\n",
        folder / "Makefile": MAKEFILE,
        project / "events" / f"{name}-hello.json": json.dumps({"name": "Ada"}, indent=2) + "\n",
        project / "events" / f"{name}-hello.client-context.json": json.dumps(
            {"custom": {"bedrockAgentCoreToolName": f"{name}___hello"}}, indent=2
        )
        + "\n",
        project / "events" / f"{name}-hello.env.json": json.dumps(
            {logical_id: {"AGENTGW_FALLBACK_TOOL_NAME": f"{name}___hello"}}, indent=2
        )
        + "\n",
        project / "tests" / "unit" / "targets" / f"test_{module}_target.py": TEST.format(
            name=name, module=module, logical_id=logical_id
        ),
    }
    clashes = [str(path.relative_to(project)) for path in files if path.exists()]
    if clashes:
        raise ScaffoldError(f"would overwrite {', '.join(clashes)}")
    new_text = edited_template(template_path.read_text("utf-8"), name, logical_id)
    written: list[Path] = []
    new_dirs = sorted(
        {d for path in files for d in (path.parent, *path.parent.parents) if not d.exists()},
        key=lambda d: len(d.parts),
        reverse=True,
    )
    staged = Path(tempfile.mkstemp(dir=project, prefix=".template.", suffix=".yaml")[1])
    try:
        for path, content in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, "utf-8")
            written.append(path)
        staged.write_text(new_text, "utf-8")
        problems = [str(f) for f in preflight(Template(staged)) if not f.warning]
        if lint and not problems:
            problems = _lint(staged)
        if problems:
            raise ScaffoldError("the edited template would be broken: " + "; ".join(problems))
        shutil.copymode(template_path, staged)
        os.replace(staged, template_path)  # one rename: the template is old or new, never half
    except BaseException:
        staged.unlink(missing_ok=True)
        for path in written:
            path.unlink(missing_ok=True)
        for directory in new_dirs:  # deepest first: only the folders made here, now empty
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
        raise
    return Scaffold(name, logical_id, sorted([*files, template_path]))
