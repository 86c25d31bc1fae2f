"""Errors the user can fix; the entry point prints their one-line message, no traceback."""


class UserError(Exception):
    """A mistake in the command, the config or the environment, explained in one line."""


class RunInterrupted(Exception):
    """Ctrl-C during training; the message says where the last checkpoint is and how to resume."""
