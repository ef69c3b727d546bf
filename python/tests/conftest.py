"""A real `warden serve` per test module, on 127.0.0.1 (a free port), in a temporary data directory."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GERMAN = REPO / "crates/warden-testdata/data/datasets/german.csv"


class Server:
    def __init__(self, data_dir: Path, extra: list[str] = ()):
        binary = os.environ.get("WARDEN_BIN", str(REPO / "target/debug/warden"))
        self.data_dir = data_dir
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        for line in self.process.stdout:
            if line.startswith("warden listening on "):
                self.url = line.split()[3]
                break
        else:
            raise RuntimeError("warden serve exited before listening")
        # Keep reading its output so it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()
        self.admin_token = (data_dir / "admin.token").read_text().strip()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("warden") / "data")
    yield running
    running.stop()
