"""AWS through boto3: Secrets Manager (stage URLs) and S3 (rdev seeds).

boto3 honours ``AWS_ENDPOINT_URL`` (a local moto server in tests). Calls have short timeouts
and a bounded number of retries, and every failure is one line: what was asked, of which
service, and what AWS said. Secret values never appear in a message.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from ci.errors import BadInput, DbciError, OutsideFailure

#: Short timeouts, a few retries: a CI job must fail in seconds, not hang.
BOTO_CONFIG = BotoConfig(connect_timeout=5, read_timeout=15,
                         retries={"max_attempts": 3, "mode": "standard"})
#: What AWS calls a thing that is not there.
NOT_FOUND = {"ResourceNotFoundException", "NoSuchKey", "NoSuchBucket", "404", "NotFound"}


def client(service: str) -> Any:
    """A boto3 client with dbci's timeouts and retries."""
    try:
        return boto3.session.Session().client(service, config=BOTO_CONFIG)
    except NoRegionError as exc:
        raise BadInput(f"AWS {service}: no region; set AWS_REGION (or AWS_DEFAULT_REGION)") from exc
    except BotoCoreError as exc:
        raise OutsideFailure(f"AWS {service}: {exc}") from exc


def failure(service: str, what: str, error: Exception) -> DbciError:
    """A boto3 error as one line; a missing thing is bad input, the rest an outside failure."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", "?"))
        said = error.response.get("Error", {}).get("Message") or code
        kind = BadInput if code in NOT_FOUND else OutsideFailure
        return kind(f"AWS {service}: {what}: {code}: {said}")
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return OutsideFailure(f"AWS {service}: {what}: cannot reach the endpoint ({error}); "
                              "check the network, or AWS_ENDPOINT_URL")
    if isinstance(error, NoCredentialsError):
        return OutsideFailure(f"AWS {service}: {what}: no credentials (set AWS_PROFILE, or the "
                              "workflow's OIDC role)")
    return OutsideFailure(f"AWS {service}: {what}: {error}")


def secret_json(name: str) -> dict[str, Any]:
    """The Secrets Manager secret ``name``, a JSON object."""
    try:
        value = client("secretsmanager").get_secret_value(SecretId=name)
    except (ClientError, BotoCoreError) as exc:
        raise failure("Secrets Manager", f"reading secret {name!r}", exc) from exc
    text = value.get("SecretString")
    try:
        parsed = json.loads(text) if text is not None else None
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise BadInput(f"AWS Secrets Manager: secret {name!r} is not a JSON object; it must hold "
                       "database_uri, or the RDS layout (username, password, host, port, dbname)")
    return parsed
