"""How progress reads on stderr: a live line on a terminal, one line per step elsewhere."""

from __future__ import annotations

import io

from marketing_pipeline.cli.progress import TerminalProgress


def story(view: TerminalProgress) -> None:
    view.step_started("encharge_people")
    view.step_progress("encharge_people", "pages read: 1")
    view.step_progress("encharge_people", "pages read: 2")
    view.step_progress("encharge_people", "5,000 people in Encharge, 83 with the tag 'x'")
    view.step_finished("encharge_people", "done")
    view.step_started("encharge_audience")
    view.step_finished("encharge_audience", "failed")


def test_on_a_terminal_the_running_step_is_one_live_line() -> None:
    out = io.StringIO()
    story(TerminalProgress(out, live=True))
    text = out.getvalue()
    assert text.startswith("\r\x1b[Kencharge_people    running\r\x1b[Kencharge_people    0.0s  pages read: 1")
    assert "\r\x1b[Kencharge_people    0.0s  pages read: 2" in text
    # Finished steps stay as lines; the live line is cleared first.
    finished = [line.split("\r\x1b[K")[-1] for line in text.split("\n")[:-1]]
    assert finished == [
        "encharge_people    done in 0.0s: 5,000 people in Encharge, 83 with the tag 'x'",
        "encharge_audience  FAILED in 0.0s",
    ]


def test_elsewhere_one_line_per_step_and_nothing_live() -> None:
    out = io.StringIO()
    story(TerminalProgress(out, live=False))
    assert out.getvalue() == (
        "encharge_people    done in 0.0s: 5,000 people in Encharge, 83 with the tag 'x'\n"
        "encharge_audience  FAILED in 0.0s\n"
    )
