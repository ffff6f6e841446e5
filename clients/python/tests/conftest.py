"""A real devnet for the SDK's tests: `yui devnet` started in a temporary directory, its gRPC
endpoint read from what it prints, stopped (and its processes ended) after the session."""

import os
import pathlib
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "clients" / "python" / "examples"))


def yui_binary() -> str:
    b = os.environ.get("YUI_BIN") or str(REPO / "target" / "debug" / "yui")
    if not os.path.exists(b):
        pytest.exit(f"no yui binary at {b}: run `cargo build --bin yui` or set YUI_BIN", returncode=2)
    return b


class Devnet:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="yui-sdk-py-")
        self.proc = subprocess.Popen(
            [yui_binary(), "devnet", "--validators", "1", "--dir", self.dir],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.endpoint = None
        deadline = time.monotonic() + 60
        out = []
        while time.monotonic() < deadline and self.endpoint is None:
            r, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if not r:
                if self.proc.poll() is not None:
                    break
                continue
            line = self.proc.stdout.readline()
            if not line:
                break
            out.append(line)
            m = re.search(r"gRPC http://(127\.0\.0\.1:\d+)", line)
            if m:
                self.endpoint = m.group(1)
        if self.endpoint is None:
            self.stop()
            raise RuntimeError("the devnet printed no endpoint:\n" + "".join(out))
        self.keys = pathlib.Path(self.dir) / "keys"
        self.admin_key = self.keys / "hachioji-admin-1.key"

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def devnet():
    d = Devnet()
    try:
        from yui_sdk import Client

        with Client(d.endpoint) as c:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if c.chain_info().height >= 1:
                        break
                except Exception:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the devnet committed no block within 60 s")
                time.sleep(0.2)
        yield d
    finally:
        d.stop()
