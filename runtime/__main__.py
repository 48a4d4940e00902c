"""`python -m agentgw_runtime [--host H] [--port 8080]`: serve the agent as an AgentCore Runtime app."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from agentgw_runtime.app import app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the agentgw agent as an AgentCore Runtime app")
    parser.add_argument(
        "--host", default=None, help="address to bind (default: 127.0.0.1, 0.0.0.0 in a container)"
    )
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    app.run(port=args.port, host=args.host)


if __name__ == "__main__":
    main()
