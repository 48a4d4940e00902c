"""Teardown of the agent's session bucket contents, so `sam delete` can delete the bucket.

CloudFormation refuses to delete a bucket that holds objects. The custom resource's Delete
(teardown) runs before CloudFormation deletes the bucket (the custom resource refers to it),
and empties it: every object version and delete marker (a versioned bucket keeps both), which
for an unversioned bucket is every object (version id "null").

IAM: s3:ListBucketVersions on the bucket (ListObjectVersions), s3:DeleteObject and
s3:DeleteObjectVersion on its objects (DeleteObjects with version ids).
"""

from __future__ import annotations

import logging
import re

from agentgw.provisioning import aws
from agentgw.provisioning.errors import InvalidInput, ProvisioningError, error_code

logger = logging.getLogger(__name__)

# DeleteObjects takes at most 1000 keys a request.
BATCH = 1000
# S3 bucket naming rules (general purpose buckets).
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class BucketNotEmptied(ProvisioningError):
    """Some objects could not be deleted (says which and why)."""


def check_bucket_name(name: str) -> str:
    if not BUCKET_NAME.fullmatch(name) or ".." in name:
        raise InvalidInput(f"sessionBucket {name!r} is not a valid S3 bucket name")
    return name


def empty_bucket(bucket: str) -> int:
    """Delete every object version and delete marker in `bucket`; how many were deleted.

    A bucket that no longer exists counts as empty (teardown runs again after a failed delete).
    """
    s3 = aws.client("s3")
    deleted = 0
    try:
        # Always list from the start: each round deletes all it listed (or raises), so the
        # next round sees what is left, whatever the listing's markers make of deleted keys.
        while True:
            page = s3.list_object_versions(Bucket=bucket, MaxKeys=BATCH)
            batch = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for kind in ("Versions", "DeleteMarkers")
                for item in page.get(kind, [])
            ]
            if not batch:
                break
            for start in range(0, len(batch), BATCH):  # both kinds together may exceed one batch
                chunk = batch[start : start + BATCH]
                answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
                errors = answer.get("Errors") or []
                if errors:
                    first = errors[0]
                    raise BucketNotEmptied(
                        f"could not delete {len(errors)} object version(s) from {bucket}: "
                        f"{first.get('Key')!r}: {first.get('Code')} {first.get('Message', '')}".strip()
                    )
                deleted += len(chunk)
    except Exception as exc:
        if error_code(exc) == "NoSuchBucket":
            return deleted
        raise
    logger.info("emptied session bucket", extra={"bucket": bucket, "deleted": deleted})
    return deleted
