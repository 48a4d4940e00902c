"""The targets template.yaml declares, read from a checkout: for the local health check and
`agentgw targets check|list`.

The declaration is checked by the same code provisioning runs (`agentgw.provisioning.declaration`),
with each `!GetAtt <Function>.Arn` given the ARN the local stack gives that function.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgw.provisioning import declaration, tool_schemas
from agentgw.provisioning.errors import InvalidInput
from agentgw.provisioning.tool_schemas import Finding
from agentgw_local.aws import ACCOUNT_ID
from agentgw_local.cloudformation import CUSTOM_RESOURCE_TYPE
from agentgw_local.settings import DEFAULT_REGION, DEFAULT_STACK_NAME, function_name
from agentgw_local.template import Template, TemplateError, resolve


@dataclass(frozen=True)
class DeclaredTarget:
    name: str
    kind: str
    description: str
    function: str  # the template's logical id of the function ("" when not a !GetAtt)
    schema_file: str  # as declared (relative to the template's folder)
    item: Mapping[str, Any]  # the declaration as written


def raw_targets(template: Template) -> list[Any]:
    for resource in template.resources.values():
        if resource.get("Type") == CUSTOM_RESOURCE_TYPE:
            targets = resource.get("Properties", {}).get("Targets")
            if not isinstance(targets, list):
                raise TemplateError(
                    f"{template.path}: the {CUSTOM_RESOURCE_TYPE} resource has no Targets list"
                )
            return targets
    raise TemplateError(f"{template.path}: no {CUSTOM_RESOURCE_TYPE} resource")


def _function_of(item: Any) -> str:
    try:
        arn = item["TargetConfiguration"]["Mcp"]["Lambda"]["LambdaArn"]
    except (KeyError, TypeError):
        return ""
    if isinstance(arn, Mapping) and "Fn::GetAtt" in arn:
        attribute = arn["Fn::GetAtt"]
        dotted = ".".join(attribute) if isinstance(attribute, list) else str(attribute)
        logical_id, _, attr = dotted.partition(".")
        return logical_id if attr == "Arn" else ""
    return ""


def declared_targets(
    template: Template | None = None, stack_name: str = DEFAULT_STACK_NAME
) -> list[DeclaredTarget]:
    """The template's targets, checked (InvalidInput/TemplateError say what is wrong)."""
    template = template or Template()
    return declared_targets_of(template, raw_targets(template), stack_name)


def declared_targets_of(
    template: Template, items: list[Any], stack_name: str = DEFAULT_STACK_NAME
) -> list[DeclaredTarget]:
    """`items` (declared in `template`), checked like provisioning checks them."""
    functions = template.functions()
    names: dict[str, str] = {
        "AWS::StackName": stack_name,
        "AWS::Region": DEFAULT_REGION,
        "AWS::AccountId": ACCOUNT_ID,
    }
    for logical_id in functions:
        names[f"{logical_id}.Arn"] = (
            f"arn:aws:lambda:{DEFAULT_REGION}:{ACCOUNT_ID}:function:{function_name(stack_name, logical_id)}"
        )
    for item in items:
        function = _function_of(item)
        mcp = item.get("TargetConfiguration", {}).get("Mcp") if isinstance(item, Mapping) else None
        if isinstance(mcp, Mapping) and "Lambda" in mcp and function not in functions:
            raise InvalidInput(
                f"target {item.get('Name')}: LambdaArn must be !GetAtt <Function>.Arn of a function in "
                f"{template.path.name}" + (f" ({function} is not one)" if function else "")
            )
    checked = declaration.parse(resolve(items, names, template.parameter_defaults))
    return [
        DeclaredTarget(t["name"], t["kind"], t["description"], _function_of(item), t["toolSchemaFile"], item)
        for t, item in zip(checked, items, strict=True)
    ]


def tool_names(targets: list[DeclaredTarget], root: Path) -> dict[str, list[str]]:
    """Each target's tool names, from its schema file (refused with its errors when not acceptable)."""
    return {
        t.name: [tool["name"] for tool in tool_schemas.load(t.schema_file, t.name, root)] for t in targets
    }


def read_schema(target: DeclaredTarget, root: Path) -> Any:
    path = tool_schemas.resolve(target.schema_file, root)
    return json.loads(path.read_text("utf-8"))


def preflight(template: Template) -> list[Finding]:
    """Every problem with the template's targets and their schema files, not just the first:
    what provisioning (or AgentCore) would refuse, and warnings for what Bedrock would."""
    where = template.path.name
    try:
        items = raw_targets(template)
    except TemplateError as exc:
        return [Finding(where, str(exc))]
    findings: list[Finding] = []
    if not items:
        findings.append(Finding(where, "declares no targets"))
    if len(items) > declaration.MAX_TARGETS:
        findings.append(
            Finding(where, f"declares {len(items)} targets; AgentCore allows {declaration.MAX_TARGETS}")
        )
    checked: list[DeclaredTarget] = []
    for item in items:
        try:
            (target,) = declared_targets_of(template, [item])
        except (InvalidInput, TemplateError) as exc:
            findings.append(Finding(where, str(exc)))
            continue
        checked.append(target)
    names = [t.name for t in checked]
    findings += [
        Finding(where, f"target {name} is declared {names.count(name)} times; names must be unique")
        for name in sorted(set(names))
        if names.count(name) > 1
    ]
    root = template.path.parent
    for target in checked:
        try:
            document = read_schema(target, root)
        except InvalidInput as exc:
            findings.append(Finding(target.schema_file, f"target {target.name}: {exc}"))
            continue
        except ValueError as exc:
            findings.append(Finding(target.schema_file, f"is not JSON: {exc}"))
            continue
        findings += tool_schemas.check_definitions(target.schema_file, document, target.name)
    return findings
