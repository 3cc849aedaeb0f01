"""What moderators do to polls and responses, split by concern, and the audit log recording it.

Plain Python over a SQLAlchemy ``Session``: no Flask, so the API, the moderation pages, the CLI
and the tests share one set of rules. The caller owns the transaction and, for anything that
writes, begins it as a writer. Refusals are ``pollserver.core.refusals.Refused``.

- ``audit``: the append-only log of every change.
- ``polls``: listing, counts, lifecycle, settings and deletion.
- ``edits``: definition edits (free until a poll has answers, then texts only) and new versions.
- ``responses``: hiding and restoring responses; the respondent records exports and lists show.
- ``activity``: answers per hour and respondents by address hash: where spikes show.
- ``exports``: CSV and JSON lines, streamed.
"""
