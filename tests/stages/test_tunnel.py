"""``--tunnel ssm`` and ``dbci tunnel``: dbci opens an SSM port forward and ends it however it
ends; ``--tunnel-port`` and ``tunnel_port`` refuse what is not a TCP port.

A fake ``aws`` on PATH stands in for the AWS CLI: it records its arguments and pid, listens on
the ``localPortNumber`` it was given and forwards each connection to the test server, as the
session-manager plugin forwards to the stage's private database host.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import (
    DBCI,
    HEAD,
    SECRET,
    add_revision,
    blocks_until,
    dbci,
    free_port,
    put_secret,
    rds_layout,
    server,
    set_dbci,
    version,
    wait_for,
)
from sqlalchemy.engine import make_url

from ci.stages.tunnel import DOCUMENT

#: The stage's instance, and its database's host as the secret names it: only the instance
#: reaches that host (here: only the fake's forward does).
INSTANCE = "i-0123456789abcdef0"
PRIVATE_HOST = "db.dev.internal.invalid"

FAKE_AWS = '''#!{python}
"""A stand-in for `aws ssm start-session`: records its arguments, forwards the port."""
import contextlib, json, os, socket, sys, threading, time
from pathlib import Path

here = Path(os.environ["FAKE_AWS_DIR"])
with open(here / "calls.jsonl", "a") as calls:
    calls.write(json.dumps(sys.argv[1:]) + "\\n")
with open(here / "pids", "a") as pids:
    pids.write(f"{{os.getpid()}}\\n")
mode = os.environ.get("FAKE_AWS_MODE", "forward")
if mode == "fail":
    sys.stderr.write("\\nAn error occurred (TargetNotConnected) when calling the StartSession "
                     "operation: {instance} is not connected.\\n")
    sys.exit(254)
if mode == "silent":
    while True:
        time.sleep(1)
params = dict(p.split("=", 1) for p in sys.argv[sys.argv.index("--parameters") + 1].split(","))
upstream = os.environ["FAKE_AWS_UPSTREAM"]
listener = socket.create_server(("127.0.0.1", int(params["localPortNumber"])))
print("Starting session with SessionId: fake-0123", flush=True)


def pipe(source, sink):
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for end in (source, sink):
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)


while True:
    client, _ = listener.accept()
    if upstream.startswith("/"):
        up = socket.socket(socket.AF_UNIX)
        up.connect(upstream)
    else:
        host, port = upstream.rsplit(":", 1)
        up = socket.create_connection((host, int(port)))
    for a, b in ((client, up), (up, client)):
        threading.Thread(target=pipe, args=(a, b), daemon=True).start()
'''


@dataclass
class FakeAws:
    """The fake ``aws``'s folder: what it was called with, and its processes."""

    folder: Path

    def calls(self) -> list[list[str]]:
        path = self.folder / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] \
            if path.exists() else []

    def pids(self) -> list[int]:
        path = self.folder / "pids"
        return [int(line) for line in path.read_text().split()] if path.exists() else []

    def all_gone(self) -> bool:
        """Whether every fake session has ended (a zombie nobody reaped yet counts as ended)."""
        return bool(self.pids()) and all(_gone(pid) for pid in self.pids())


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _upstream(url: str) -> str:
    """Where the fake forwards to: the test server's socket file, or its host:port."""
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host")
    assert isinstance(host, str)
    port = parsed.port or 5432
    return f"{host}/.s.PGSQL.{port}" if host.startswith("/") else f"{host}:{port}"


@pytest.fixture
def fake_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage_db: str) -> FakeAws:
    """A fake ``aws`` first on PATH, forwarding to the server of ``stage_db``."""
    folder = tmp_path / "fake-aws"
    (folder / "bin").mkdir(parents=True)
    script = folder / "bin" / "aws"
    script.write_text(FAKE_AWS.format(python=sys.executable, instance=INSTANCE))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_AWS_DIR", str(folder))
    monkeypatch.setenv("FAKE_AWS_UPSTREAM", _upstream(server()))
    return FakeAws(folder)


@pytest.fixture
def ssm_dev(project: Path, aws: str, stage_db: str, fake_aws: FakeAws) -> str:
    """Stage dev: its secret names a private host; its ssm_target is :data:`INSTANCE`."""
    put_secret(SECRET, rds_layout(stage_db, host=PRIVATE_HOST, port=5432))
    set_dbci(project, f'stages.dev.ssm_target = "{INSTANCE}"')
    return stage_db


def _forward_arguments(local_port: str) -> list[str]:
    return ["ssm", "start-session", "--target", INSTANCE, "--document-name", DOCUMENT,
            "--parameters", f"host={PRIVATE_HOST},portNumber=5432,localPortNumber={local_port}"]


# -- through the tunnel --------------------------------------------------------------------------


@pytest.mark.db
def test_migrate_through_an_ssm_tunnel(ssm_dev: str, fake_aws: FakeAws) -> None:
    run = dbci("migrate", "--stage", "dev", "--tunnel", "ssm")
    assert run.code == 0, run.err
    assert version(ssm_dev) == {HEAD}
    (call,) = fake_aws.calls()
    local_port = call[-1].rsplit("=", 1)[1]
    assert call == _forward_arguments(local_port) and 0 < int(local_port) < 65536
    assert fake_aws.all_gone()


@pytest.mark.db
def test_status_and_dump_through_the_stages_tunnel_setting(project: Path, ssm_dev: str,
                                                          fake_aws: FakeAws,
                                                          tmp_path: Path) -> None:
    set_dbci(project, 'stages.dev.tunnel = "ssm"')
    assert dbci("migrate", "--stage", "dev").code == 0
    run = dbci("status", "--stage", "dev")
    assert run.code == 0, run.err
    assert HEAD in run.out
    dumped = tmp_path / "dev.dump"
    run = dbci("db", "dump", "--stage", "dev", "--out", str(dumped))
    assert run.code == 0, run.err
    assert dumped.stat().st_size > 0
    assert len(fake_aws.calls()) == 3 and fake_aws.all_gone()
    assert PRIVATE_HOST not in run.out + run.err  # dbci names the stage, not the forward's host
    run = dbci("status", "--stage", "dev", "--tunnel-port", "1")  # the flag wins over the setting
    assert run.code == 3 and len(fake_aws.calls()) == 3


# -- what goes wrong -----------------------------------------------------------------------------


@pytest.mark.db
def test_no_aws_cli_is_exit_3_naming_the_plugin(ssm_dev: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    run = dbci("migrate", "--stage", "dev", "--tunnel", "ssm")
    assert run.code == 3
    assert run.err == ("dbci migrate: an SSM tunnel to stage dev needs the AWS CLI with the "
                       "session-manager plugin (aws not found on PATH); install both, or open a "
                       "forward yourself and pass --tunnel-port PORT\n")
    assert version(ssm_dev) == set()


@pytest.mark.db
def test_a_forward_that_never_opens_is_exit_3_within_the_bound(
        ssm_dev: str, fake_aws: FakeAws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_AWS_MODE", "silent")
    monkeypatch.setenv("DBCI_TUNNEL_WAIT", "1")
    started = time.monotonic()
    run = dbci("migrate", "--stage", "dev", "--tunnel", "ssm")
    assert time.monotonic() - started < 15
    assert run.code == 3
    assert run.err.startswith(f"dbci migrate: stage dev: the SSM port forward through {INSTANCE} "
                              "did not open within 1s (it said nothing)")
    assert run.err.count("\n") == 1
    assert fake_aws.all_gone()


@pytest.mark.db
def test_a_session_aws_refuses_is_exit_3_with_its_reason(
        ssm_dev: str, fake_aws: FakeAws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_AWS_MODE", "fail")
    run = dbci("status", "--stage", "dev", "--tunnel", "ssm")
    assert run.code == 3
    assert run.err == (f"dbci status: stage dev: the SSM port forward through {INSTANCE} ended "
                       "before it opened (aws exited 254: An error occurred (TargetNotConnected) "
                       "when calling the StartSession operation: "
                       f"{INSTANCE} is not connected.); check the instance is online in SSM "
                       "and your AWS credentials may start sessions\n")


@pytest.mark.db
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killing_dbci_mid_migration_ends_the_session(project: Path, ssm_dev: str,
                                                     fake_aws: FakeAws, tmp_path: Path,
                                                     how: signal.Signals) -> None:
    """SIGTERM: dbci ends the session's process group on its way out. SIGKILL: nothing of
    dbci runs, the kernel's parent-death signal ends ``aws`` (Linux)."""
    if how is signal.SIGKILL and not sys.platform.startswith("linux"):
        pytest.skip("the parent-death signal is Linux's")
    started = tmp_path / "started"
    slow = add_revision(project, "slow_backfill", blocks_until(started))
    process = subprocess.Popen([str(DBCI), "migrate", "--stage", "dev", "--tunnel", "ssm"],
                               cwd=project, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        assert wait_for(started.exists), "the run never reached the slow revision"
        assert fake_aws.pids() and not fake_aws.all_gone()
        process.send_signal(how)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == (143 if how is signal.SIGTERM else -signal.SIGKILL), err
    assert wait_for(fake_aws.all_gone, 30), "the fake aws session outlived dbci"
    assert slow not in version(ssm_dev)


@pytest.mark.parametrize("value", ["0", "-1", "99999", "abc"])
def test_a_tunnel_port_that_is_not_a_port_is_refused(project: Path, value: str) -> None:
    run = dbci("migrate", "--stage", "dev", "--tunnel-port", value)
    assert run.code == 2
    assert run.err.splitlines()[-1].startswith("dbci migrate: argument --tunnel-port: ")
    assert repr(value) in run.err.splitlines()[-1]


@pytest.mark.parametrize(("setting", "says"), [
    ("stages.dev.tunnel_port = 0", "[tool.dbci.stages.dev] tunnel_port = 0: is not a TCP port "
                                   "(1 to 65535)"),
    ("stages.dev.tunnel_port = 65536", "[tool.dbci.stages.dev] tunnel_port = 65536: is not a "
                                       "TCP port"),
    ('stages.dev.tunnel_port = "5432"', "[tool.dbci.stages.dev] tunnel_port = '5432' is not a "
                                        "whole number"),
    ('stages.dev.ssm_target = "bastion"', "[tool.dbci.stages.dev] ssm_target = 'bastion': is not "
                                          "an instance id"),
    ('stages.dev.tunnel = "ssh"', "[tool.dbci.stages.dev] tunnel = 'ssh'"),
    ('stages.dev.tunnel = "ssm"', "an SSM tunnel needs the instance it goes through: set "
                                  '[tool.dbci.stages.dev] ssm_target = "i-..."'),
], ids=["port-0", "port-65536", "port-text", "target-shape", "tunnel-kind", "no-target"])
def test_tunnel_settings_that_are_wrong_are_refused(project: Path, setting: str,
                                                    says: str) -> None:
    set_dbci(project, setting)
    for command in ("migrate", "status"):
        run = dbci(command, "--stage", "dev")
        assert run.code == 2, run.err
        assert says in run.err and run.err.count("\n") == 1


@pytest.mark.parametrize(("args", "says"), [
    (["--tunnel", "ssm", "--tunnel-port", "5432"], "--tunnel and --tunnel-port do not go "
                                                   "together"),
    (["--tunnel", "ssh"], "argument --tunnel: invalid choice: 'ssh' (choose from 'ssm')"),
], ids=["both", "unknown-kind"])
def test_tunnel_flags_that_do_not_go_together(project: Path, args: list[str], says: str) -> None:
    set_dbci(project, f'stages.dev.ssm_target = "{INSTANCE}"')
    run = dbci("migrate", "--stage", "dev", *args)
    assert run.code == 2 and says in run.err.splitlines()[-1]


@pytest.mark.db
def test_a_unix_socket_host_cannot_be_tunnelled(ssm_dev: str, fake_aws: FakeAws) -> None:
    put_secret(SECRET, rds_layout(ssm_dev, host="/var/run/postgresql"))
    run = dbci("migrate", "--stage", "dev", "--tunnel", "ssm")
    assert run.code == 2
    assert "stage dev's database has no TCP host (a Unix socket" in run.err
    assert fake_aws.calls() == []


# -- dbci tunnel (make db/tunnel): a forward held open for work by hand --------------------------


@contextlib.contextmanager
def _dbci_tunnel(project: Path, port: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``dbci tunnel`` running, and the first line it wrote; killed at the end if need be."""
    process = subprocess.Popen([str(DBCI), "tunnel", "--stage", "dev", "--port", port],
                               cwd=project, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        assert process.stderr is not None
        yield process, process.stderr.readline()
    finally:
        process.kill()
        process.wait()


@pytest.mark.db
def test_dbci_tunnel_holds_a_forward_until_interrupted(project: Path, ssm_dev: str,
                                                       fake_aws: FakeAws) -> None:
    port = str(free_port())
    with _dbci_tunnel(project, port) as (process, line):
        assert line == (f"tunnel: stage dev's database on 127.0.0.1:{port} through {INSTANCE}; "
                        "Ctrl-C ends it\n")
        assert fake_aws.calls() == [_forward_arguments(port)]
        run = dbci("migrate", "--stage", "dev", "--tunnel-port", port)  # through the forward
        assert run.code == 0, run.err
        assert version(ssm_dev) == {HEAD}
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert process.returncode == 130
    assert wait_for(fake_aws.all_gone, 30)


@pytest.mark.db
def test_dbci_tunnel_ends_with_exit_3_when_the_session_dies(project: Path, ssm_dev: str,
                                                            fake_aws: FakeAws) -> None:
    with _dbci_tunnel(project, str(free_port())) as (process, line):
        assert line.startswith("tunnel: stage dev's database")
        os.kill(fake_aws.pids()[0], signal.SIGKILL)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 3
    assert err == (f"dbci tunnel: stage dev: the SSM port forward through {INSTANCE} ended "
                   "(aws exited -9: it said nothing)\n")
