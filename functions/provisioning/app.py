"""Provisioning workflow: one Lambda handler per state machine step (thin: the logic is in
agentgw.provisioning.steps). Each function in template.yaml points at one handler here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from agentgw.provisioning import steps
from agentgw.provisioning.aws import account_from_arn

SERVICE = "agentgw-provisioning"
logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
# The library's module loggers write through Powertools too (structured, same level).
copy_config_to_registered_loggers(source_logger=logger, include={"agentgw"})

Step = Callable[[Mapping[str, Any], str], dict[str, Any]]


def _run(step: Step, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(step=step.__name__)
    return step(event, account_from_arn(context.invoked_function_arn))


# Responses are not captured in traces: they hold ids and URLs only, but traces need neither.
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def create_authorizer(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _run(steps.create_authorizer, event, context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def create_gateway(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _run(steps.create_gateway, event, context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def fix_iam_permissions(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _run(steps.fix_iam_permissions, event, context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def check_gateway(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _run(steps.check_gateway, event, context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def create_target(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _run(steps.create_target, event, context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def check_targets(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _run(steps.check_targets, event, context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def prune_targets(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _run(steps.prune_targets, event, context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def publish_config(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _run(steps.publish_config, event, context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def rollback(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _run(steps.rollback_step, event, context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def teardown(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _run(steps.teardown, event, context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def report(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _run(steps.report, event, context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def custom_resource(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    # CloudFormation's event holds a presigned URL: not logged (inject_lambda_context logs no events).
    return _run(steps.custom_resource, event, context)
