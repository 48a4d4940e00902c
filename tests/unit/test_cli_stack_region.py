"""`--stack NAME` with no AWS region anywhere is a one-line error with exit 2 (not botocore's
NoRegionError traceback); AWS_REGION, which the AWS CLI reads and boto3 does not, is honoured."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from agentgw_local.cli import main

NO_REGION = "no AWS region for --stack: pass --region, or set AWS_DEFAULT_REGION or a profile's region"


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


@pytest.mark.parametrize(
    "argv",
    [
        ["tools", "list", "--stack", "agentgw"],
        ["tools", "search", "time in Tokyo", "--stack", "agentgw"],
        ["tools", "call", "timeweather___get_time", "--stack", "agentgw"],
        ["invoke", "What time is it in Tokyo?", "--stack", "agentgw"],
        ["health", "--stack", "agentgw"],
    ],
)
def test_stack_without_a_region_is_one_line_and_exit_2(
    no_aws_config: None, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"agentgw {argv[0]}: {NO_REGION}"]
    assert captured.out == ""


class _Recorder(BaseHTTPRequestHandler):
    """Answers every AWS query request with CloudFormation's "stack does not exist" error."""

    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).seen.append(self.headers.get("Authorization", ""))
        body = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code>"
            b"<Message>Stack with id agentgw does not exist</Message></Error></ErrorResponse>"
        )
        self.send_response(400)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_cloudformation() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_aws_region_is_the_last_resort(
    no_aws_config: None,
    fake_cloudformation: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_ENDPOINT_URL", fake_cloudformation)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    assert main(["tools", "list", "--stack", "agentgw"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "agentgw tools: stack agentgw: Stack with id agentgw does not exist"
    ]
    assert _Recorder.seen and "/eu-west-3/cloudformation/aws4_request" in _Recorder.seen[0]
