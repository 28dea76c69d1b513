"""The one error type for problems the user can fix.

``ivit-hw`` reports a :class:`UserError` as one line, ``ivit-hw: error: <message>``,
and exits with status 2. Anything else that escapes a command is a bug in the
tool: the CLI prints its traceback and a line asking to report it, and exits
with :data:`EXIT_INTERNAL`.

How to use it:

- Raise it (or a subclass) where input is checked: a path, a file's contents,
  an option's value, a graph that does not fit the command. The message is the
  whole report: name the option, file, tensor, node or key at fault.
- A module with its own family of input errors subclasses it, keeping
  ``ValueError`` as a second base where callers of the Python API already
  catch ``ValueError``::

      class PlanError(UserValueError):
          '''A parallelism plan that cannot be built; names the node.'''

- Never catch a broad ``ValueError`` / ``TypeError`` to turn it into a user
  error: that hides bugs. Convert only the errors of a call whose failure is
  the input's fault (``np.load`` of the user's file, ``yaml.safe_load`` of the
  user's config, ...).
"""

from __future__ import annotations

__all__ = ["EXIT_INTERNAL", "EXIT_USER", "UserError", "UserValueError"]

#: Exit status of a user error (one line on stderr).
EXIT_USER = 2
#: Exit status of an internal error (a traceback and a line asking to report it).
EXIT_INTERNAL = 3


class UserError(Exception):
    """A problem the user can fix (bad path, bad file, bad option value): one line, exit status 2."""


class UserValueError(UserError, ValueError):
    """A :class:`UserError` that is also a ``ValueError``, for API callers that catch ``ValueError``."""
