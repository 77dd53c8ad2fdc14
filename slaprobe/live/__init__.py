"""Live operations: the SLA rule run as samples arrive, and what it tells operators (issue #13)."""
