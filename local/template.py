"""Read the SAM template the way the local stack needs it: functions, their code and settings.

Only what the local stack uses is resolved: each `AWS::Serverless::Function` (with the
template's `Globals`), its handler file under `CodeUri`, and environment values whose
intrinsics (`Ref`, `Sub`, `GetAtt …Arn`) can be resolved from parameters and the names the
local stack gives to resources.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from agentgw_local.environment import EnvOverlay

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"

Handler = Callable[[Any, Any], Any]


class TemplateError(ValueError):
    """The template cannot be used by the local stack (says what and where)."""


@dataclass(frozen=True)
class FunctionSpec:
    """One `AWS::Serverless::Function` as the local stack runs it."""

    logical_id: str
    code_uri: Path
    handler: str
    timeout_s: int
    memory_mb: int
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def handler_file(self) -> Path:
        module, _, _ = self.handler.rpartition(".")
        return self.code_uri / (module.replace(".", "/") + ".py")

    @property
    def import_environment(self) -> dict[str, str]:
        """The function's own Powertools settings from the template (literal values only).

        Powertools' Logger, Metrics and Tracer read them once, when the handler module creates
        them at import; set around the import, each in-process function gets its own service
        name (its own logger and the EMF `service` dimension), as on Lambda. Nothing else is
        read at import, and per invocation the process environment is shared, so no more is set.
        """
        return {
            key: value
            for key, value in self.environment.items()
            if key.startswith("POWERTOOLS_") and isinstance(value, str)
        }

    def handler_module(self) -> ModuleType:
        """The handler's module, imported from its file once per process (a unique name per function)."""
        module_name = f"agentgw_fn_{self.logical_id}"
        module = sys.modules.get(module_name)
        if module is None:
            overlay = EnvOverlay()
            overlay.set(self.import_environment)
            try:
                module = _import_file(module_name, self.handler_file)
            finally:
                overlay.restore()
        return module

    def load_handler(self) -> Handler:
        """The handler function of `handler_module`."""
        module = self.handler_module()
        attr = self.handler.rpartition(".")[2]
        handler = getattr(module, attr, None)
        if not callable(handler):
            raise TemplateError(f"{self.logical_id}: {self.handler_file} has no callable {attr!r}")
        return handler


def _import_file(module_name: str, path: Path) -> ModuleType:
    if not path.is_file():
        raise TemplateError(f"handler file not found: {path}")
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form intrinsics: `!Ref X` → {"Ref": "X"}, `!Sub s` →
    {"Fn::Sub": s}, `!GetAtt A.B` → {"Fn::GetAtt": ["A", "B"]}, … (the long form CloudFormation
    itself reads). A plain YAML reader, so the local stack needs no linter to start."""


def _intrinsic(loader: yaml.SafeLoader, name: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name if name in ("Ref", "Condition") else f"Fn::{name}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


class Template:
    """A parsed SAM template."""

    def __init__(self, path: Path = TEMPLATE_PATH) -> None:
        self.path = path
        try:
            self.doc: dict[str, Any] = yaml.load(path.read_text("utf-8"), Loader=_CfnLoader)
        except FileNotFoundError as exc:
            raise TemplateError(f"template not found: {path}") from exc

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.doc.get("Resources", {})

    @cached_property
    def parameter_defaults(self) -> dict[str, Any]:
        return {
            name: spec["Default"]
            for name, spec in self.doc.get("Parameters", {}).items()
            if "Default" in spec
        }

    def functions(self) -> dict[str, FunctionSpec]:
        """Every serverless function, by logical id, with `Globals.Function` applied."""
        globals_fn = self.doc.get("Globals", {}).get("Function", {})
        specs: dict[str, FunctionSpec] = {}
        for logical_id, resource in self.resources.items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            props = {**globals_fn, **resource.get("Properties", {})}
            env = {
                **globals_fn.get("Environment", {}).get("Variables", {}),
                **resource.get("Properties", {}).get("Environment", {}).get("Variables", {}),
            }
            if "CodeUri" not in props or "Handler" not in props:
                raise TemplateError(f"{logical_id}: CodeUri and Handler are required")
            specs[logical_id] = FunctionSpec(
                logical_id=logical_id,
                code_uri=(self.path.parent / str(props["CodeUri"])).resolve(),
                handler=str(props["Handler"]),
                timeout_s=int(props.get("Timeout", 3)),
                memory_mb=int(props.get("MemorySize", 128)),
                environment=env,
            )
        return specs


_SUB_VAR = re.compile(r"\$\{([^}!]+)\}")


def resolve(value: Any, names: Mapping[str, str], params: Mapping[str, Any]) -> Any:
    """Resolve the intrinsics the local stack supports; raise TemplateError on others.

    `names` maps a logical id (or `Logical.Attr`) to the local physical name/ARN;
    pseudo parameters like `AWS::Region` are looked up in `names` too.
    """

    def ref(name: str) -> str:
        if name in params:
            return str(params[name])
        if name in names:
            return names[name]
        raise TemplateError(f"cannot resolve Ref {name!r} locally")

    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, list):
        return [resolve(v, names, params) for v in value]
    if isinstance(value, Mapping):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return ref(arg)
            if key == "Fn::GetAtt":
                dotted = ".".join(arg) if isinstance(arg, list) else str(arg)
                return ref(dotted)
            if key == "Fn::Sub":
                template, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                local = {k: resolve(v, names, params) for k, v in extra.items()}
                return _SUB_VAR.sub(
                    lambda m: str(local[m.group(1)]) if m.group(1) in local else ref(m.group(1)),
                    template,
                )
            if key == "Fn::Join":
                sep, parts = arg
                return sep.join(str(resolve(p, names, params)) for p in parts)
            if key.startswith("Fn::") or key == "Condition":
                raise TemplateError(f"intrinsic {key} is not supported by the local stack")
        return {k: resolve(v, names, params) for k, v in value.items()}
    return value
