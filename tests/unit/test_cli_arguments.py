"""The `agentgw` command line refuses out-of-range options with a usage error (exit 2), one line
naming the option, before anything starts — not a traceback from deep inside the stack."""

from __future__ import annotations

import pytest

from agentgw_local.cli import build_parser


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["local", "up", "--port", "70000"], "--port: 70000 is not a port number (0-65535)"),
        (["local", "up", "--port", "-1"], "--port: -1 is not a port number (0-65535)"),
        (["local", "up", "--aws-port", "65536"], "--aws-port: 65536 is not a port number (0-65535)"),
        (["local", "up", "--page-size", "0"], "--page-size: must be a whole number of at least 1, not '0'"),
        (["local", "up", "--stack-name", "bad_name!"], "--stack-name: stack name 'bad_name!' must start"),
        (["local", "provision", "--stack-name", "1st"], "--stack-name: stack name '1st' must start"),
        (["invoke", "hi", "--timeout", "-1"], "--timeout: must be a number of seconds above 0, not '-1'"),
        (["invoke", "hi", "--timeout", "0"], "--timeout: must be a number of seconds above 0, not '0'"),
        (["invoke", "hi", "--timeout", "nan"], "--timeout: must be a number of seconds above 0, not 'nan'"),
        (["health", "--timeout", "-1"], "--timeout: must be a number of seconds above 0, not '-1'"),
        (["health", "--timeout", "inf"], "--timeout: must be a number of seconds above 0, not 'inf'"),
        (["tools", "search", ""], "query: must not be empty"),
        (["tools", "search", "   "], "query: must not be empty"),
    ],
)
def test_out_of_range_options_are_usage_errors(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert says in err
    assert "Traceback" not in err


def test_in_range_options_are_taken() -> None:
    args = build_parser().parse_args(
        [
            "local",
            "up",
            "--port",
            "0",
            "--aws-port",
            "65535",
            "--page-size",
            "1",
            "--stack-name",
            "my-stack-2",
        ]
    )
    assert (args.port, args.aws_port, args.page_size, args.stack_name) == (0, 65535, 1, "my-stack-2")
    assert build_parser().parse_args(["invoke", "hi", "--timeout", "0.5"]).timeout == 0.5
    assert build_parser().parse_args(["health", "--timeout", "3"]).timeout == 3.0
    assert build_parser().parse_args(["health"]).timeout is None  # the per-target default applies
