"""Exit codes and the one exception type that means "the user gave us bad input"."""

EXIT_OK = 0
EXIT_FAILURE = 1  # an unexpected runtime failure
EXIT_BAD_INPUT = 2  # missing/unreadable file, bad config key or value, invalid bundle


class BadInput(Exception):
    """Bad input from the user: reported as ONE line on stderr and exit code 2, no traceback.

    The message should name the file (and line) or the configuration key, and what is wrong.
    """
