"""Errors the state machine matches on, by name.

Step Functions names a Lambda task's error after the exception class (`errorType`), and
`statemachine/provision.asl.json` retries or catches by that name. So AWS errors are
re-raised as exceptions *named after their error code* (`ThrottlingException`, …), and
the workflow's own failures have their own names. `RETRYABLE_ERRORS` is the list the
ASL `Retry` blocks use (a test keeps the two in sync); validation errors are never in it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError

# Transient: retried with backoff and jitter. Never ValidationException. Services name their
# transient errors differently (IAM `Throttling`, SSM `TooManyUpdates`, Secrets Manager
# `InternalServiceError`, Cognito `InternalErrorException`…): each is listed by its own name.
RETRYABLE_ERRORS: tuple[str, ...] = (
    # throttling (botocore's standard-mode list, as the services spell it)
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "ServiceQuotaExceededException",
    "TooManyUpdates",
    # conflicts with a change still in progress
    "ConflictException",
    "RetryableConflictException",
    "ConcurrentModificationException",
    "ConcurrentModification",
    # the service's own failures
    "InternalServerException",
    "InternalServiceError",
    "InternalErrorException",
    "InternalFailure",
    "ServiceFailure",
    "ServiceUnavailableException",
    "ServiceUnavailable",
    "TransientAwsError",  # any other 5xx answer (see aws_error)
    # ours: a deletion still in progress
    "ResourceStillInUse",
)


class ProvisioningError(Exception):
    """Base class: a step failed for a reason the caller should read."""


class InvalidInput(ProvisioningError):
    """The execution input or custom resource properties are wrong (never retried)."""


class GatewayFailed(ProvisioningError):
    """The gateway reached FAILED (or UPDATE_UNSUCCESSFUL); the message has the service's reasons."""


class TargetFailed(ProvisioningError):
    """A gateway target reached FAILED; the message has the service's reasons."""


class NotReadyInTime(ProvisioningError):
    """Polling reached its bounded number of attempts before the resource was ready."""


class ResourceConflict(ProvisioningError):
    """A resource with our deterministic name exists but belongs to something else."""


class ResourceStillInUse(ProvisioningError):
    """A deletion is still in progress; the state machine retries the step."""


class PermissionsNotPropagated(ProvisioningError):
    """CreateGatewayTarget's dry-run invocation was denied: the role's new policy has not
    reached every IAM endpoint yet (eventual consistency). Retried with backoff, bounded."""


class ResponseDeliveryFailed(ProvisioningError):
    """CloudFormation's ResponseURL did not accept the response."""


class AwsError(ProvisioningError):
    """Base of the classes built from AWS error codes (see `aws_error`)."""

    code = "AwsError"


_AWS_ERROR_CLASSES: dict[str, type[AwsError]] = {}


def aws_error(exc: ClientError) -> AwsError:
    """An exception named after the AWS error code, keeping the service's message."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "AwsError")
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code not in RETRYABLE_ERRORS and status >= 500:
        code = "TransientAwsError"  # the server failed: worth another try, whatever it is called
    elif not code.isidentifier():
        code = "AwsError"
    cls = _AWS_ERROR_CLASSES.get(code)
    if cls is None:
        cls = type(code, (AwsError,), {"code": code})
        _AWS_ERROR_CLASSES[code] = cls
    operation = getattr(exc, "operation_name", "")
    message = str(error.get("Message") or exc)
    return cls(f"{operation}: {message}" if operation else message)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError (or the class name)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


F = TypeVar("F", bound=Callable[..., Any])


def translate_aws_errors(fn: F) -> F:
    """Re-raise botocore ClientErrors as exceptions named after their code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            raise aws_error(exc) from exc

    return wrapper  # type: ignore[return-value]
