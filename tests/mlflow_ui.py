"""A real `mlflow server` on 127.0.0.1 over a store, and headless Chromium to read its UI."""

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from conftest import BIN

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    """Poll /health: the server takes ~15 s to answer on 2 cores."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"mlflow server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"mlflow server at {url} did not answer within {timeout:.0f} s")


@contextmanager
def mlflow_server(backend: str, folder: Path, *extra: str):
    """`mlflow server` over `backend` (a store URI) on a free port; yields its URL. Its job
    runner (huey consumers, which outlive a terminated server) is off, and the whole
    process group is stopped afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        str(BIN / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        backend,
        *extra,
    ]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with open(folder / "server.log", "w") as log:
        server = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=env, start_new_session=True
        )
    try:
        wait_until_up(url, server)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def browser() -> tuple[str | None, str]:
    """A headless Chromium, installed with apt-get when missing and run as root: (path, why not)."""
    found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if found:
        return found, ""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "no Chromium, and apt-get cannot install one here (not root, or not Debian)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    proc = subprocess.run(
        ["apt-get", "install", "-y", "-q", "chromium"], capture_output=True, text=True, env=env, timeout=900
    )
    found = shutil.which("chromium")
    return (found, "") if found else (None, f"apt-get install chromium failed: {proc.stderr[-300:]}")


def chromium(path: str, url: str, *args: str) -> str:
    """Run headless Chromium on `url` long enough for the app's requests; its stdout."""
    cmd = [
        path,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1500,900",
        "--virtual-time-budget=20000",
        *args,
        url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=True).stdout
