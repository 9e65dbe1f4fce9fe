"""The one exception a bad command raises, and the caret picture that goes with it."""

from __future__ import annotations

_SPAN = 40  # characters shown either side of the caret, as lark's get_context does


class CommandError(ValueError):
    """A command that could not be understood: where, what was expected, a guess.

    ``column`` and ``line`` are 1-based and count characters of ``text``; ``pos`` is the
    0-based offset they were computed from. ``suggestion`` is what "did you mean ...?"
    offers (``"^claim"``, ``"tomorrow"``); ``understood`` is what a time was read as
    when it was refused for being in the past.
    """

    def __init__(
        self,
        text: str,
        *,
        pos: int,
        problem: str,
        expected: str,
        suggestion: str | None = None,
        understood: str | None = None,
        usage: str | None = None,
    ) -> None:
        self.text = text
        self.pos = max(0, min(pos, len(text)))
        self.problem = problem
        self.expected = expected
        self.suggestion = suggestion
        self.understood = understood
        self.usage = usage
        line_start = text.rfind("\n", 0, self.pos) + 1
        self.line = text.count("\n", 0, self.pos) + 1
        self.column = self.pos - line_start + 1
        super().__init__(f"{problem} (line {self.line}, column {self.column})")

    def picture(self) -> str:
        """The problem line, cut to 40 characters either side, with a caret under it."""
        line_start = self.text.rfind("\n", 0, self.pos) + 1
        line_end = self.text.find("\n", self.pos)
        if line_end == -1:
            line_end = len(self.text)
        before = self.text[max(line_start, self.pos - _SPAN) : self.pos]
        after = self.text[self.pos : min(line_end, self.pos + _SPAN)]
        return f"{before}{after}\n{' ' * len(before.expandtabs())}^"

    def explain(self, *, slack: bool = False) -> str:
        """The answer for the person who typed it: picture, problem, expectation, guess.

        ``slack=True`` puts the picture in a code block: the caret only lines up in a
        fixed-width font.
        """
        picture = f"```{self.picture()}```" if slack else self.picture()
        lines = [picture, self.problem, f"expected {self.expected}"]
        if self.suggestion:
            lines.append(f"did you mean {self.suggestion}?")
        if self.usage:
            lines.append(f"usage: {self.usage}")
        return "\n".join(lines)


class Refusal(Exception):
    """A CommandError before the whole line is known.

    Raised inside a Transformer or the <when> evaluator with an offset into the text
    they were given; whoever holds the whole command line turns it into a CommandError
    with ``at(text, offset)``, so that a <when> parsed on its own points into ^at's line.
    """

    def __init__(
        self,
        pos: int | None,
        problem: str,
        *,
        expected: str,
        suggestion: str | None = None,
        understood: str | None = None,
    ) -> None:
        super().__init__(problem)
        self.pos = pos or 0  # lark's Token.start_pos is Optional
        self.problem = problem
        self.expected = expected
        self.suggestion = suggestion
        self.understood = understood

    def at(self, text: str, offset: int = 0, *, usage: str | None = None) -> CommandError:
        """The CommandError for this refusal inside ``text``, ``offset`` characters in."""
        return CommandError(
            text,
            pos=offset + self.pos,
            problem=self.problem,
            expected=self.expected,
            suggestion=self.suggestion,
            understood=self.understood,
            usage=usage,
        )
