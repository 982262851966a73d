"""The worker's web server: Faust's aiohttp server with no pages of its own.

Faust always mounts a "production index" at ``/`` that answers ``{"status": "OK"}``
whatever the worker's state; a load balancer or probe pointed there would never see a
worker that does not serve. This driver leaves that page out (the settings turn off the
others), so the server holds only what newsmon adds: ``/metrics`` and ``/health``. It is
registered as Faust web driver ``newsmon`` through the ``faust.web.drivers`` entry point
(pyproject.toml), Faust's way to add a web driver; the app selects it with its ``web``
setting, ``"newsmon://"``.
"""

from __future__ import annotations

from typing import ClassVar

from faust.web.drivers.aiohttp import Web as AiohttpWeb

#: The Faust ``web`` setting (the web driver's URL) that selects this driver.
DRIVER = "newsmon://"


class Web(AiohttpWeb):
    """aiohttp, without Faust's ``/`` page (the other pages are off by settings)."""

    production_blueprints: ClassVar[list[tuple[str, str]]] = []
