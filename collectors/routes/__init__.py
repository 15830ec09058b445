"""The collector's HTTP API routes, one APIRouter per part of the API (``service``, ``ingest``,
``federation``, ``reads``, ``tuf``); what they share (the database, the token cache, the ingest queue,
the settings) comes from ``request.app.state`` through ``deps``; ``errors`` turns exceptions
into answers. collectors.app assembles them."""
