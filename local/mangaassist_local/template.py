"""Read template.yaml the way CloudFormation would, for the resources the local stack creates.

Only the intrinsics the template uses in environments and substitutions are
resolved (Ref, GetAtt, Sub, If, Equals, Not, And, Or, Join, Select): a value that
cannot exist locally (an ElastiCache endpoint) resolves to "".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

ACCOUNT = "123456789012"


class _Tag:
    def __init__(self, name: str, value: Any) -> None:
        self.name, self.value = name, value


class _Loader(yaml.SafeLoader):
    pass


def _construct(loader: _Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    key = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    return {key: value}


_Loader.add_multi_constructor("!", _construct)


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    timeout: int
    memory_size: int = 128
    reserved_concurrency: int | None = None  # ReservedConcurrentExecutions: beyond it, TooManyRequestsException


class Template:
    def __init__(self, path: Path, region: str, stage: str = "local", overrides: dict[str, str] | None = None) -> None:
        self.path = path
        self.root = path.parent
        self.region = region
        self.stage = stage
        self.doc: dict[str, Any] = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - our SafeLoader subclass
        self.overrides = overrides or {}

    @property
    def resources(self) -> dict[str, Any]:
        return self.doc["Resources"]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res["Type"] == kind}

    @cached_property
    def parameters(self) -> dict[str, str]:
        values = {name: str(spec.get("Default", "")) for name, spec in self.doc.get("Parameters", {}).items()}
        values.update({k: v for k, v in self.overrides.items() if k in values})
        if "Stage" in values and "Stage" not in self.overrides:
            values["Stage"] = self.stage
        return values

    # -- physical names: what the local stack calls each resource -----------------
    def physical_name(self, logical_id: str) -> str:
        name = f"mangaassist-{logical_id}"
        if self.resources.get(logical_id, {}).get("Type") == "AWS::S3::Bucket":
            return name.lower()  # S3 bucket names are lower case
        return name

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        if kind == "AWS::Serverless::Function":
            return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{name}"
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{self.region}:{ACCOUNT}:{name}"
        if kind == "AWS::DynamoDB::Table":
            return f"arn:aws:dynamodb:{self.region}:{ACCOUNT}:table/{name}"
        if kind == "AWS::Serverless::StateMachine":
            return f"arn:aws:states:{self.region}:{ACCOUNT}:stateMachine:{name}"
        return f"arn:aws:local:{self.region}:{ACCOUNT}:{logical_id}"

    def queue_url(self, logical_id: str, endpoint: str) -> str:
        return f"{endpoint}/{ACCOUNT}/{self.physical_name(logical_id)}"

    # -- intrinsic functions --------------------------------------------------------
    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.doc.get("Conditions", {})[name]))

    def _ref(self, name: str, endpoint: str) -> Any:
        pseudo = {"AWS::Region": self.region, "AWS::AccountId": ACCOUNT, "AWS::StackName": "mangaassist-local",
                  "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            if self.resources[name]["Type"] == "AWS::SQS::Queue":
                return self.queue_url(name, endpoint)
            if self.resources[name]["Type"] == "AWS::Serverless::StateMachine":
                return self.arn(name)
            return self.physical_name(name)
        raise KeyError(f"unknown Ref {name}")

    def _getatt(self, name: str, attribute: str) -> Any:
        if name not in self.resources:
            raise KeyError(f"unknown GetAtt {name}.{attribute}")
        if attribute == "Arn":
            return self.arn(name)
        if attribute in ("QueueName", "Name", "EndpointName"):
            return self.physical_name(name)
        return ""  # endpoints of services with no local server (ElastiCache, OpenSearch Serverless)

    def resolve(self, value: Any, endpoint: str = "") -> Any:
        if isinstance(value, list):
            return [self.resolve(item, endpoint) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {key: self.resolve(item, endpoint) for key, item in value.items()}
        (key, arg), = value.items()
        if key == "Ref":
            return self._ref(arg, endpoint)
        if key == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else arg.split(".", 1)
            return self._getatt(parts[0], parts[1])
        if key == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1], endpoint))

            def sub(match: re.Match[str]) -> str:
                token = match.group(1)
                if token in extra:
                    return str(extra[token])
                if "." in token and token.split(".", 1)[0] in self.resources:
                    return str(self._getatt(*token.split(".", 1)))
                return str(self._ref(token, endpoint))

            return re.sub(r"\$\{([^}!]+)\}", sub, text)
        if key == "Fn::If":
            name, yes, no = arg
            return self.resolve(yes if self.condition(name) else no, endpoint)
        if key == "Fn::Equals":
            left, right = self.resolve(arg, endpoint)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.resolve(arg[0], endpoint)
        if key == "Fn::And":
            return all(self.resolve(arg, endpoint))
        if key == "Fn::Or":
            return any(self.resolve(arg, endpoint))
        if key == "Fn::Join":
            sep, items = arg
            return sep.join(str(i) for i in self.resolve(items, endpoint) if i is not None)
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items, endpoint)[int(index)]
        if key == "Condition":
            return self.condition(arg)
        return {key: self.resolve(arg, endpoint)}

    # -- what the local stack needs --------------------------------------------------
    @cached_property
    def functions(self) -> dict[str, FunctionSpec]:
        globals_ = self.doc.get("Globals", {}).get("Function", {})
        specs = {}
        for name, res in self.of_type("AWS::Serverless::Function").items():
            props = res["Properties"]
            specs[name] = FunctionSpec(
                logical_id=name,
                code_uri=(self.root / props["CodeUri"]).resolve(),
                handler=props.get("Handler", globals_.get("Handler", "app.lambda_handler")),
                timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
                memory_size=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
                reserved_concurrency=self._reserved(props),
            )
        return specs

    def _reserved(self, props: dict[str, Any]) -> int | None:
        value = self.resolve(props.get("ReservedConcurrentExecutions"))
        return None if value in (None, "") else int(value)

    def environment(self, endpoint: str) -> dict[str, str]:
        """Every function's environment variables, resolved (Globals first, then each function's own)."""
        merged: dict[str, Any] = dict(self.doc.get("Globals", {}).get("Function", {}).get("Environment", {})
                                      .get("Variables", {}))
        for res in self.of_type("AWS::Serverless::Function").values():
            merged.update(res["Properties"].get("Environment", {}).get("Variables", {}))
        return {key: "" if (v := self.resolve(value, endpoint)) is None else str(v) for key, value in merged.items()}

    def function_environment(self, logical_id: str, endpoint: str) -> dict[str, str]:
        """One function's environment variables, resolved: Globals, then the function's own."""
        merged: dict[str, Any] = dict(self.doc.get("Globals", {}).get("Function", {}).get("Environment", {})
                                      .get("Variables", {}))
        props = self.resources[logical_id]["Properties"]
        merged.update(props.get("Environment", {}).get("Variables", {}))
        return {key: "" if (v := self.resolve(value, endpoint)) is None else str(v) for key, value in merged.items()}

    def function_by_name(self, name_or_arn: str) -> FunctionSpec:
        name = name_or_arn.rsplit(":", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        for logical_id, spec in self.functions.items():
            if name in (logical_id, self.physical_name(logical_id)):
                return spec
        raise KeyError(name)

    def has_function(self, name_or_arn: str) -> bool:
        try:
            self.function_by_name(name_or_arn)
        except KeyError:
            return False
        return True

    def state_machine(self, endpoint: str) -> tuple[str, str]:
        """(name, definition) of the chat-turn machine with its substitutions applied."""
        (logical_id, res), = self.of_type("AWS::Serverless::StateMachine").items()
        props = res["Properties"]
        definition = (self.root / props["DefinitionUri"]).read_text()
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            resolved = self.resolve(value, endpoint)
            definition = definition.replace("${" + key + "}", "" if resolved is None else str(resolved))
        return self.physical_name(logical_id), definition
