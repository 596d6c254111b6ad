"""Run the reference storefront on a port (``shopbot storefront``)."""

from __future__ import annotations

from shopbot.shop.app import create_storefront_app


def run_storefront(host: str, port: int, db_path: str, api_key: str | None) -> None:
    """Serve the storefront with uvicorn until interrupted.

    One worker: the app keeps one SQLite connection per process (see ``db.py``).
    """
    import uvicorn

    uvicorn.run(create_storefront_app(db_path, api_key), host=host, port=port)
