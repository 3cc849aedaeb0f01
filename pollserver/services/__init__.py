"""The application: what readers, editors and moderators do, over a SQLAlchemy Session or
Connection and plain values. No Flask here (``import-linter`` checks it): each function raises a
``pollserver.core.refusals.Refused`` carrying its HTTP status, and the caller owns the transaction.
"""
