"""How progress reads on stderr: a live line on a terminal, one line per step elsewhere."""

from __future__ import annotations

import io
import re

from marketing_pipeline.cli.live_line import LiveLine


def story(view: LiveLine) -> None:
    view.step_started("encharge_people")
    view.step_progress("encharge_people", "pages read: 1")
    view.step_progress("encharge_people", "pages read: 2")
    view.step_progress("encharge_people", "5,000 people in Encharge, 83 with the tag 'x'")
    view.step_finished("encharge_people", "done")
    view.step_started("encharge_audience")
    view.step_finished("encharge_audience", "failed")


def screen(written: str) -> tuple[list[str], list[str]]:
    """What a terminal shows after `written` (carriage returns, line clears, cursor moves up), and every
    state of the line the cursor was on as it was redrawn."""
    lines, row, shown = [""], 0, []
    for token in re.findall(r"\x1b\[\??\d*[A-Za-z]|\r|\n|[^\x1b\r\n]+", written):
        if token == "\n":
            row += 1
            lines += [""] * (row + 1 - len(lines))
        elif token in ("\x1b[2K", "\x1b[K"):
            lines[row] = ""
        elif token == "\x1b[1A":
            row -= 1
        elif not token.startswith(("\x1b", "\r")):
            lines[row] += token
            shown.append(lines[row])
    return [line for line in lines if line], shown


def test_on_a_terminal_the_running_step_is_one_live_line() -> None:
    out = io.StringIO()
    with LiveLine(out, live=True) as view:
        story(view)
    text = out.getvalue()
    finished, shown = screen(text)
    # The running step was one line, rewritten as its counts arrived...
    assert shown[:3] == [
        "encharge_people    running",
        "encharge_people    0.0s  pages read: 1",
        "encharge_people    0.0s  pages read: 2",
    ]
    # ...finished steps stay as lines, and the live line is gone when the run is over (the cursor back).
    assert finished == [
        "encharge_people    done in 0.0s: 5,000 people in Encharge, 83 with the tag 'x'",
        "encharge_audience  FAILED in 0.0s",
    ]
    assert text.startswith("\x1b[?25l") and "\x1b[?25h" in text


def test_the_live_line_is_cut_to_the_terminal_and_text_is_shown_as_given() -> None:
    out = io.StringIO()
    with LiveLine(out, live=True) as view:
        view.console.width = 40
        view.step_started("encharge_people")
        view.step_progress("encharge_people", "[bold]people[/bold] :smile: " + "x" * 80)
        view.note("a [note] :smile: " + "y" * 80)
    _, shown = screen(out.getvalue())
    assert all(len(line) <= 40 for line in shown if "people" in line)
    assert "encharge_people    0.0s  [bold]people[/…" in shown  # markup is text, not styling
    assert "a [note] :smile: " + "y" * 80 in screen(out.getvalue())[0]  # finished lines are never cut


def test_elsewhere_one_line_per_step_and_nothing_live() -> None:
    out = io.StringIO()
    with LiveLine(out, live=False) as view:
        story(view)
    assert out.getvalue() == (
        "encharge_people    done in 0.0s: 5,000 people in Encharge, 83 with the tag 'x'\n"
        "encharge_audience  FAILED in 0.0s\n"
    )
