"""CreateAuthorizer: the Cognito user pool, domain, resource server + scope, and app client.

The app client uses the `client_credentials` grant only. Its secret is read from Cognito
and written to Secrets Manager here, in the same step: the step returns the secret's ARN,
never the secret, so it cannot reach the state machine's history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from agentgw import endpoints
from agentgw.config import ClientCredentials
from agentgw.provisioning import aws
from agentgw.provisioning.errors import ResourceConflict, error_code
from agentgw.provisioning.names import SCOPE_NAME, TAG_KEY, ResourceNames

logger = logging.getLogger(__name__)


def find_user_pool(cognito: Any, name: str) -> str | None:
    """The id of the user pool named `name` (the oldest, if several), or None."""
    matches = []
    for page in cognito.get_paginator("list_user_pools").paginate(MaxResults=60):
        matches += [pool for pool in page.get("UserPools", []) if pool.get("Name") == name]
    if not matches:
        return None
    matches.sort(key=lambda pool: str(pool.get("CreationDate", "")))
    return str(matches[0]["Id"])


def find_app_client(cognito: Any, user_pool_id: str, name: str) -> str | None:
    for page in cognito.get_paginator("list_user_pool_clients").paginate(
        UserPoolId=user_pool_id, MaxResults=60
    ):
        for item in page.get("UserPoolClients", []):
            if item.get("ClientName") == name:
                return str(item["ClientId"])
    return None


def find_secret(secrets: Any, name: str) -> dict[str, Any] | None:
    try:
        return secrets.describe_secret(SecretId=name)
    except secrets.exceptions.ResourceNotFoundException:
        return None


def ensure_authorizer(names: ResourceNames, secret_name: str) -> dict[str, Any]:
    """Create (or find) every authorizer resource; return ids, URLs and the secret ARN."""
    cognito = aws.client("cognito-idp")
    secrets = aws.client("secretsmanager")
    created: list[dict[str, str]] = []
    try:
        pool_id = find_user_pool(cognito, names.user_pool)
        if pool_id is None:
            pool = cognito.create_user_pool(
                PoolName=names.user_pool,
                # Machine-to-machine only: nobody signs up, nobody signs in with a password.
                AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
                UserPoolTags={TAG_KEY: names.stack_name},
            )["UserPool"]
            pool_id = str(pool["Id"])
            created.append({"type": "userPool", "id": pool_id})
        pool_arn = str(cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Arn"])

        domain = names.cognito_domain
        described = cognito.describe_user_pool_domain(Domain=domain).get("DomainDescription") or {}
        if not described.get("UserPoolId"):
            cognito.create_user_pool_domain(Domain=domain, UserPoolId=pool_id)
            created.append({"type": "domain", "id": domain, "userPoolId": pool_id})
        elif described["UserPoolId"] != pool_id:
            raise ResourceConflict(f"Cognito domain {domain} belongs to another user pool")

        _ensure_resource_server(cognito, pool_id, names)

        client_id = find_app_client(cognito, pool_id, names.app_client)
        if client_id is None:
            client_id = str(
                cognito.create_user_pool_client(
                    UserPoolId=pool_id,
                    ClientName=names.app_client,
                    GenerateSecret=True,
                    AllowedOAuthFlows=["client_credentials"],
                    AllowedOAuthScopes=[names.scope],
                    AllowedOAuthFlowsUserPoolClient=True,
                    ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"],
                    SupportedIdentityProviders=["COGNITO"],
                    PreventUserExistenceErrors="ENABLED",
                )["UserPoolClient"]["ClientId"]
            )
            created.append({"type": "appClient", "id": client_id, "userPoolId": pool_id})

        secret_arn, secret_created = _store_client_secret(cognito, secrets, pool_id, client_id, secret_name)
        if secret_created:
            created.append({"type": "secret", "id": secret_arn})
    except Exception:
        # This invocation's partial work is undone so a retry (or the rollback) starts clean.
        undo_quietly(created)
        raise

    region = aws.region()
    return {
        "userPoolId": pool_id,
        "userPoolArn": pool_arn,
        "domain": domain,
        "resourceServer": names.resource_server,
        "scope": names.scope,
        "clientId": client_id,
        "secretArn": secret_arn,
        "discoveryUrl": endpoints.cognito_discovery_url(region, pool_id),
        "tokenUrl": endpoints.cognito_token_url(region, domain),
        "created": created,
    }


def _ensure_resource_server(cognito: Any, pool_id: str, names: ResourceNames) -> None:
    scope = {"ScopeName": SCOPE_NAME, "ScopeDescription": "Invoke the gateway's tools"}
    try:
        server = cognito.describe_resource_server(UserPoolId=pool_id, Identifier=names.resource_server)[
            "ResourceServer"
        ]
    except cognito.exceptions.ResourceNotFoundException:
        cognito.create_resource_server(
            UserPoolId=pool_id, Identifier=names.resource_server, Name=names.resource_server, Scopes=[scope]
        )
        return
    scopes = server.get("Scopes") or []
    if not any(s.get("ScopeName") == SCOPE_NAME for s in scopes):
        cognito.update_resource_server(
            UserPoolId=pool_id,
            Identifier=names.resource_server,
            Name=server.get("Name") or names.resource_server,
            Scopes=[*scopes, scope],
        )


def _store_client_secret(
    cognito: Any, secrets: Any, pool_id: str, client_id: str, secret_name: str
) -> tuple[str, bool]:
    """Write {client_id, client_secret} to Secrets Manager; return (ARN, created?)."""
    client = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
    credentials = ClientCredentials(client_id=client_id, client_secret=str(client["ClientSecret"]))
    value = credentials.to_secret_string()
    existing = find_secret(secrets, secret_name)
    if existing is None:
        arn = secrets.create_secret(
            Name=secret_name,
            Description="OAuth client credentials of the agentgw gateway's Cognito app client",
            SecretString=value,
        )["ARN"]
        return str(arn), True
    if existing.get("DeletedDate"):
        secrets.restore_secret(SecretId=secret_name)
    current = secrets.get_secret_value(SecretId=secret_name).get("SecretString")
    if current != value:
        secrets.put_secret_value(SecretId=secret_name, SecretString=value)
    return str(existing["ARN"]), False


def domain_status(domain: str) -> str:
    """The Cognito domain's status (ACTIVE once its endpoints answer), or "MISSING"."""
    described = aws.client("cognito-idp").describe_user_pool_domain(Domain=domain).get("DomainDescription")
    return str((described or {}).get("Status") or "MISSING")


# -- deletion ------------------------------------------------------------------------------


def _ignore_missing(action: Callable[[], Any], *codes: str) -> bool:
    """Run a delete; return False when the resource was already gone."""
    try:
        action()
    except Exception as exc:
        if error_code(exc) in {"ResourceNotFoundException", *codes}:
            return False
        raise
    return True


def delete_secret(secret_id: str) -> bool:
    secrets = aws.client("secretsmanager")
    # A forced delete of a missing secret succeeds silently: look first, to report the truth.
    if find_secret(secrets, secret_id) is None:
        return False
    # Without recovery: a re-deployment must be able to create the same name at once.
    return _ignore_missing(lambda: secrets.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True))


def delete_user_pool(pool_id: str) -> bool:
    """Delete the pool and everything in it (its domain first: Cognito requires it)."""
    cognito = aws.client("cognito-idp")
    try:
        pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    except cognito.exceptions.ResourceNotFoundException:
        return False
    for domain in {pool.get("Domain"), pool.get("CustomDomain")} - {None, ""}:
        _ignore_missing(lambda d=domain: cognito.delete_user_pool_domain(Domain=d, UserPoolId=pool_id))
    return _ignore_missing(lambda: cognito.delete_user_pool(UserPoolId=pool_id))


def undo(created: list[dict[str, str]]) -> list[str]:
    """Delete the authorizer resources in `created`, newest first; return what was deleted."""
    cognito = aws.client("cognito-idp")
    deleted: list[str] = []
    for item in reversed(created):
        kind, ident = item["type"], item["id"]
        if kind == "secret":
            gone = delete_secret(ident)
        elif kind == "appClient":
            gone = _ignore_missing(
                lambda i=item: cognito.delete_user_pool_client(UserPoolId=i["userPoolId"], ClientId=i["id"])
            )
        elif kind == "domain":
            gone = _ignore_missing(
                lambda i=item: cognito.delete_user_pool_domain(Domain=i["id"], UserPoolId=i["userPoolId"])
            )
        elif kind == "userPool":
            gone = delete_user_pool(ident)
        else:
            raise ValueError(f"unknown authorizer resource type {kind!r}")
        if gone:
            deleted.append(f"{kind}:{ident}")
    return deleted


def undo_quietly(created: list[dict[str, str]]) -> None:
    """`undo` for an error path: log a failed cleanup instead of hiding the original error."""
    try:
        undo(created)
    except Exception:
        logger.exception("cleanup after a failed step did not finish; the rollback will retry it")


def delete_by_name(names: ResourceNames, secret_name: str) -> list[str]:
    """Teardown: delete the secret and the pool (with domain, clients, resource server) by name."""
    deleted: list[str] = []
    if delete_secret(secret_name):
        deleted.append(f"secret:{secret_name}")
    cognito = aws.client("cognito-idp")
    # The domain is deleted by name too, in case the pool was already gone without it.
    described = cognito.describe_user_pool_domain(Domain=names.cognito_domain).get("DomainDescription") or {}
    for _ in range(10):  # bounded: duplicates by name are possible, endless loops are not
        pool_id = find_user_pool(cognito, names.user_pool)
        if pool_id is None:
            break
        if delete_user_pool(pool_id):
            deleted.append(f"userPool:{pool_id}")
    if described.get("UserPoolId") and _ignore_missing(
        lambda: cognito.delete_user_pool_domain(
            Domain=names.cognito_domain, UserPoolId=described["UserPoolId"]
        )
    ):
        deleted.append(f"domain:{names.cognito_domain}")
    return deleted
