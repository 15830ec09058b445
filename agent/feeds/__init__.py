"""Vulnerability feeds: CISA's KEV catalog, distro fix data and CISA's SSVC enrichment.

A feed store is a directory the agent owns (never on the scanned host): ``current`` links
to one complete generation of validated feed files plus ``manifest.json``; ``fedharden
feeds update`` builds a new generation and switches the link in one rename, so a reader
sees the old feeds or the new ones, never a mix. Without a store the KEV snapshot shipped
in the package (agent/feeds/data) is used, so a scan works offline out of the box.

Modules: ``kev``, ``debian``, ``osv``, ``vulnrichment`` read one format each; ``store``
keeps generations and builds the ``vulns`` fact; ``update`` collects files from a
directory, URLs or the feeds' public addresses; agent.commands.feeds is ``fedharden feeds``.

Exception tree::

    agent.UsageError
    └── FeedError      a feed file is missing, unreadable or not what it claims (exit 2);
                       the message names the file
"""
from __future__ import annotations

import datetime as dt

from agent import UsageError

# BOD 23-01: detection data (signatures, vulnerability feeds) no older than 24 hours.
MAX_AGE = dt.timedelta(hours=24)


class FeedError(UsageError):
    """A feed file is missing, unreadable or invalid; the message names the file."""
