"""Named exceptions. The CLI prints ``str(exc)`` as one line and exits non-zero."""


class SahafaError(Exception):
    """Base class of every error Sahafa reports to a user."""


class IndexNotFound(SahafaError):
    """The index directory does not exist or holds no Sahafa index."""


class IndexMismatch(SahafaError):
    """The index was built with another encoder, normaliser or format version."""


class UnknownEncoder(SahafaError):
    """The encoder name is neither bundled nor a loadable sentence-transformers model."""


class UnsupportedRuntime(SahafaError):
    """The device or precision asked for is unknown or not available on this machine."""


class MissingDependency(SahafaError):
    """An optional package that this feature needs is not installed."""


class BadBackend(SahafaError):
    """A ``--backend`` address is malformed or names an engine Sahafa cannot use."""


class BackendUnavailable(SahafaError):
    """The search backend (a Milvus server) cannot be reached, or refused a request."""


class IndexLocked(SahafaError):
    """Another process is writing to the index."""


class BadQuery(SahafaError):
    """A search or quote request cannot run as given: an unknown mode or sort, a date that is not a date."""


class BadRecord(SahafaError):
    """One input record cannot be indexed; ``where`` says file:line."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class BadSource(SahafaError):
    """A source path is missing or of a kind Sahafa cannot read."""


class StrictFailure(SahafaError):
    """``--strict`` was given and some records were skipped."""
