"""The dashboard: server-rendered HTML pages for SOC analysts and national trackers, served by
the collector under ``/dashboard`` from the collector's own storage, rollups and scoping.

Modules: ``routes`` (the routes), ``web`` (rendering, the HTML boundary: CollectorError becomes an error page),
``session`` (login with a role token, signed session cookie, CSRF), ``pages`` (what each page
shows, from collectors.reads and collectors.rollups), ``charts`` (SVG drawn on the server),
``templates/`` (Jinja2, autoescaped) and ``static/`` (one stylesheet; no script, no CDN).
"""
from __future__ import annotations

from collectors.dashboard.routes import install

__all__ = ["install"]
