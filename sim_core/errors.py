"""The one error type for bad input: a scenario, a trace, an option or a file that is wrong."""

from __future__ import annotations

from sim_core.safe_text import one_line


class ScenarioError(ValueError):
    """A scenario could not be read or is invalid; ``str()`` is the message for the user.

    ``problems`` holds one line per problem, each naming the field and the allowed range.
    Each is made one printable line (control characters escaped, long text cut), so echoing
    a user's key or name can neither split a problem over two lines nor drive the terminal.
    """

    def __init__(self, problems: list[str] | str):
        raw = [problems] if isinstance(problems, str) else list(problems)
        self.problems = [one_line(p) for p in raw]
        super().__init__("\n".join(self.problems))
