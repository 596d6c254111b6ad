"""``run_storefront`` serves the app on a real port (what ``shopbot storefront`` runs)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_run_storefront_serves_on_a_port(tmp_path: Path) -> None:
    port, db, log = free_port(), tmp_path / "shop.db", tmp_path / "server.log"
    code = f"from shopbot.shop import run_storefront; run_storefront('127.0.0.1', {port}, {str(db)!r}, 'k3y')"
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-c", code], stdout=out, stderr=out)
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": "Bearer k3y"}
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                health = httpx.get(f"{base}/health", headers=auth)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        assert health.json() == {"status": "ok"}
        assert httpx.get(f"{base}/api/categories").status_code == 401
        body = {"product_id": "dell-xps-13", "quantity": 1}
        assert httpx.post(f"{base}/api/carts/cli/items", json=body, headers=auth).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert db.exists()
