"""Vended logs/traces delivery for the gateway (agentgw.provisioning.observability).

Teardown runs against emulated CloudWatch Logs (moto server on loopback). moto refuses
`bedrock-agentcore` delivery sources, so the enable path is checked with botocore's Stubber,
which validates every request against the real CloudWatch Logs service model.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from agentgw.provisioning.observability import (
    APPLICATION_LOGS,
    TRACES,
    delivery_names,
    disable_gateway_observability,
    enable_gateway_observability,
)
from agentgw_local.aws import EmulatedAws

GATEWAY_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:gateway/gw-abcdefghij"


@pytest.mark.parametrize("stack", ["agentgw", "a" * 128, "my.stack_with:odd/chars"])
def test_names_fit_the_service_limits(stack: str) -> None:
    names = delivery_names(stack)
    for name in (*names.sources, *names.destinations):
        assert re.fullmatch(r"[\w-]{1,60}", name), name
    assert len(set((*names.sources, *names.destinations))) == 4
    assert names.log_group.startswith("/aws/vendedlogs/bedrock-agentcore/gateway/")
    assert delivery_names(stack) == names  # deterministic: teardown finds them again


def test_enable_makes_valid_requests_in_order() -> None:
    logs = boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    names = delivery_names("agentgw-prod")
    group_arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{names.log_group}"
    cwl_arn = f"arn:aws:logs:us-east-1:123456789012:delivery-destination:{names.logs_destination}"
    xray_arn = f"arn:aws:logs:us-east-1:123456789012:delivery-destination:{names.traces_destination}"
    with Stubber(logs) as stub:
        stub.add_response("create_log_group", {}, {"logGroupName": names.log_group})
        stub.add_response(
            "put_retention_policy", {}, {"logGroupName": names.log_group, "retentionInDays": 30}
        )
        stub.add_response(
            "describe_log_groups",
            {"logGroups": [{"logGroupName": names.log_group, "arn": group_arn + ":*"}]},
            {"logGroupNamePrefix": names.log_group},
        )
        stub.add_response(
            "put_delivery_source",
            {"deliverySource": {"name": names.logs_source}},
            {"name": names.logs_source, "resourceArn": GATEWAY_ARN, "logType": APPLICATION_LOGS},
        )
        stub.add_response(
            "put_delivery_destination",
            {"deliveryDestination": {"name": names.logs_destination, "arn": cwl_arn}},
            {
                "name": names.logs_destination,
                "outputFormat": "json",
                "deliveryDestinationConfiguration": {"destinationResourceArn": group_arn},
            },
        )
        stub.add_response(
            "create_delivery",
            {"delivery": {"id": "d-logs"}},
            {"deliverySourceName": names.logs_source, "deliveryDestinationArn": cwl_arn},
        )
        stub.add_response(
            "put_delivery_source",
            {"deliverySource": {"name": names.traces_source}},
            {"name": names.traces_source, "resourceArn": GATEWAY_ARN, "logType": TRACES},
        )
        stub.add_response(
            "put_delivery_destination",
            {"deliveryDestination": {"name": names.traces_destination, "arn": xray_arn}},
            {"name": names.traces_destination, "deliveryDestinationType": "XRAY"},
        )
        # A re-run: the delivery exists already and is found instead of duplicated.
        stub.add_client_error(
            "create_delivery",
            "ConflictException",
            expected_params={"deliverySourceName": names.traces_source, "deliveryDestinationArn": xray_arn},
        )
        stub.add_response(
            "describe_deliveries",
            {
                "deliveries": [
                    {
                        "id": "d-traces",
                        "deliverySourceName": names.traces_source,
                        "deliveryDestinationArn": xray_arn,
                    }
                ]
            },
            {"deliverySourceNames": [names.traces_source]},
        )
        result = enable_gateway_observability(logs, stack_name="agentgw-prod", gateway_arn=GATEWAY_ARN)
        stub.assert_no_pending_responses()
    assert result == {"log_group": names.log_group, "deliveries": ["d-logs", "d-traces"]}


def test_enable_does_not_swallow_permission_errors() -> None:
    logs = boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(logs) as stub:
        stub.add_client_error("create_log_group", "AccessDeniedException", "not allowed")
        with pytest.raises(Exception, match="AccessDenied"):
            enable_gateway_observability(logs, stack_name="s", gateway_arn=GATEWAY_ARN)


def test_disable_removes_everything_and_is_idempotent(emulator: EmulatedAws) -> None:
    logs = emulator.client("logs")
    stack = "obs-teardown"
    names = delivery_names(stack)
    logs.create_log_group(logGroupName=names.log_group)
    group_arn = f"arn:aws:logs:{emulator.region}:123456789012:log-group:{names.log_group}"
    # moto accepts only some services as delivery sources; the names are what teardown uses.
    source_arn = f"arn:aws:bedrock:{emulator.region}:123456789012:knowledge-base/KB12345678"
    for source, destination in zip(names.sources, names.destinations, strict=True):
        logs.put_delivery_source(name=source, resourceArn=source_arn, logType=APPLICATION_LOGS)
        arn = logs.put_delivery_destination(
            name=destination, deliveryDestinationConfiguration={"destinationResourceArn": group_arn}
        )["deliveryDestination"]["arn"]
        logs.create_delivery(deliverySourceName=source, deliveryDestinationArn=arn)
    # Someone else's delivery in the same account stays.
    logs.put_delivery_source(name="other-source", resourceArn=source_arn, logType=APPLICATION_LOGS)
    other = logs.put_delivery_destination(
        name="other-destination", deliveryDestinationConfiguration={"destinationResourceArn": group_arn}
    )["deliveryDestination"]["arn"]
    logs.create_delivery(deliverySourceName="other-source", deliveryDestinationArn=other)

    removed = disable_gateway_observability(logs, stack_name=stack)
    assert sum(r.startswith("delivery:") for r in removed) == 2
    assert {r for r in removed if not r.startswith("delivery:")} == {
        *(f"delivery-source:{n}" for n in names.sources),
        *(f"delivery-destination:{n}" for n in names.destinations),
        f"log-group:{names.log_group}",
    }
    assert [d["deliverySourceName"] for d in logs.describe_deliveries()["deliveries"]] == ["other-source"]
    assert {s["name"] for s in logs.describe_delivery_sources()["deliverySources"]} == {"other-source"}
    assert not logs.describe_log_groups(logGroupNamePrefix=names.log_group)["logGroups"]
    assert disable_gateway_observability(logs, stack_name=stack) == []


class _ResponseRecorder:
    """CloudFormation's presigned response URL, on loopback: records each PUT body."""

    def __init__(self) -> None:
        import http.server
        import threading

        bodies: list[dict[str, Any]] = []
        self.bodies = bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers["Content-Length"])
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/response?signed=1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Any:
    rec = _ResponseRecorder()
    yield rec
    rec.close()


@pytest.fixture(scope="module")
def observability_handler() -> Any:
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "functions" / "observability" / "app.py"
    spec = importlib.util.spec_from_file_location("agentgw_test_observability_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.lambda_handler


def cfn_event(request_type: str, url: str, **props: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
        "RequestId": "req-1",
        "LogicalResourceId": "GatewayObservabilityDelivery",
        "ResourceType": "Custom::GatewayObservability",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:x", **props},
    }


def test_custom_resource_delete_answers_success(
    emulator: EmulatedAws, recorder: _ResponseRecorder, observability_handler: Any
) -> None:
    from agentgw.lambda_context import LambdaContext

    event = cfn_event("Delete", recorder.url, StackName="obs-cr-delete")
    event["PhysicalResourceId"] = "obs-cr-delete-gateway-observability"
    result = observability_handler(event, LambdaContext(function_name="GatewayObservabilityFunction"))
    assert result["Status"] == "SUCCESS"
    (body,) = recorder.bodies
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == "obs-cr-delete-gateway-observability"
    assert body["RequestId"] == "req-1" and body["LogicalResourceId"] == "GatewayObservabilityDelivery"


def test_custom_resource_create_failure_is_reported_not_hung(
    emulator: EmulatedAws, recorder: _ResponseRecorder, observability_handler: Any
) -> None:
    from agentgw.lambda_context import LambdaContext

    # moto does not accept bedrock-agentcore as a delivery source: a real service error.
    event = cfn_event("Create", recorder.url, StackName="obs-cr-create", GatewayArn=GATEWAY_ARN)
    result = observability_handler(event, LambdaContext(function_name="GatewayObservabilityFunction"))
    assert result["Status"] == "FAILED"
    (body,) = recorder.bodies
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("ResourceNotFoundException")


def test_custom_resource_rejects_a_missing_gateway_arn(recorder: _ResponseRecorder) -> None:
    from agentgw.provisioning.observability import handle_custom_resource

    body = handle_custom_resource(cfn_event("Create", recorder.url, StackName="s"), logs=None)
    assert body["Status"] == "FAILED"
    assert "GatewayArn" in body["Reason"]
