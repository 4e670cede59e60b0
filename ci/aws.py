"""AWS through boto3: Secrets Manager (stage URLs) and S3 (rdev seeds).

boto3 honours ``AWS_ENDPOINT_URL`` (a local moto server in tests). Calls have short timeouts
and a bounded number of retries, and every failure is one line: what was asked, of which
service, and what AWS said. Secret values never appear in a message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from ci.settings import env_seconds

if TYPE_CHECKING:
    from botocore.config import Config as BotoConfig

#: Seconds to wait for AWS to answer (``DBCI_AWS_TIMEOUT`` changes it): a CI job must fail
#: in seconds, not hang.
DEFAULT_TIMEOUT = 15.0
#: The longest wait DBCI_AWS_TIMEOUT may ask for.
MAX_TIMEOUT = 3600.0
#: Tries of a call, the first included (boto3's standard retry mode, with backoff).
ATTEMPTS = 3


def boto_config() -> BotoConfig:
    """Short timeouts and a few retries."""
    from botocore.config import Config as BotoConfig  # boto3 and botocore.config take 0.2 s

    timeout = env_seconds("DBCI_AWS_TIMEOUT", DEFAULT_TIMEOUT, MAX_TIMEOUT)
    return BotoConfig(connect_timeout=min(timeout, 5.0), read_timeout=timeout,
                      retries={"max_attempts": ATTEMPTS, "mode": "standard"})
#: What AWS calls a thing that is not there.
NOT_FOUND = {"ResourceNotFoundException", "NoSuchKey", "NoSuchBucket", "404", "NotFound"}


def client(service: str) -> Any:
    """A boto3 client with dbci's timeouts and retries."""
    import boto3  # here: every command imports this module, few call AWS

    try:
        return boto3.session.Session().client(service, config=boto_config())
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


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` as (bucket, key)."""
    match = re.fullmatch(r"s3://([^/]+)/(.+)", url)
    if match is None:
        raise BadInput(f"{url!r} is not an S3 URL (s3://bucket/key)")
    return match.group(1), match.group(2)


def download(bucket: str, key: str, dest: Path) -> None:
    """An S3 object into a file."""
    try:
        client("s3").download_file(bucket, key, str(dest))
    except (ClientError, BotoCoreError) as exc:
        raise failure("S3", f"reading s3://{bucket}/{key}", exc) from exc


@dataclass(frozen=True)
class Digests:
    """A file's MD5 (hex, what a single-part upload's ETag is) and SHA-256 (base64, what S3
    checks and keeps as ChecksumSHA256)."""

    md5: str
    sha256: str

    @classmethod
    def of(cls, path: Path) -> Digests:
        md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                md5.update(block)
                sha256.update(block)
        return cls(md5.hexdigest(), base64.b64encode(sha256.digest()).decode())


def stored_digest(bucket: str, key: str) -> Digests | None:
    """What S3 says of an object's content (None when there is no such object): its SHA-256
    where S3 kept one, else its MD5 from a plain ETag, else both computed from a download."""
    s3 = client("s3")
    try:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in NOT_FOUND:
            return None
        raise failure("S3", f"reading s3://{bucket}/{key}", exc) from exc
    except BotoCoreError as exc:
        raise failure("S3", f"reading s3://{bucket}/{key}", exc) from exc
    etag = str(head.get("ETag", "")).strip('"')
    if head.get("ChecksumSHA256") or re.fullmatch(r"[0-9a-f]{32}", etag):
        return Digests(etag if re.fullmatch(r"[0-9a-f]{32}", etag) else "",
                       str(head.get("ChecksumSHA256") or ""))
    with tempfile.TemporaryDirectory(prefix="dbci-s3-") as tmp:
        copy = Path(tmp) / "object"
        download(bucket, key, copy)
        return Digests.of(copy)


def same(local: Digests, stored: Digests) -> bool:
    """Whether two digests speak of the same bytes (by what both carry)."""
    if local.sha256 and stored.sha256:
        return local.sha256 == stored.sha256
    return bool(local.md5 and stored.md5) and local.md5 == stored.md5


def put_new(bucket: str, key: str, path: Path) -> tuple[bool, Digests, Digests | None]:
    """Upload a file as a new object, never over an existing one (``If-None-Match: *``).
    Returns whether it was uploaded, the file's digests, and the stored object's."""
    local = Digests.of(path)
    s3 = client("s3")
    try:
        with path.open("rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*",
                          ContentMD5=base64.b64encode(bytes.fromhex(local.md5)).decode(),
                          ChecksumSHA256=local.sha256)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in ("PreconditionFailed", "412"):
            return False, local, stored_digest(bucket, key)
        raise failure("S3", f"writing s3://{bucket}/{key}", exc) from exc
    except BotoCoreError as exc:
        raise failure("S3", f"writing s3://{bucket}/{key}", exc) from exc
    return True, local, stored_digest(bucket, key)
