"""Reading Powertools' EMF documents back from captured stdout, as CloudWatch ingests them."""

from __future__ import annotations

import json
from typing import Any


def emf_documents(out: str, namespace: str | None = None) -> list[dict[str, Any]]:
    """Every EMF document (a JSON line with `_aws`) in `out`, optionally of one namespace."""
    docs = []
    for line in out.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue  # a log line that is not JSON
        if isinstance(doc, dict) and "_aws" in doc:
            docs.append(doc)
    if namespace is not None:
        docs = [d for d in docs if d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == namespace]
    return docs
