"""The README's examples are what the default demo prints (issue 25). A run of the demo and
six commands (~20 s): behind `-m demo`, which CI runs after the default suite."""

from __future__ import annotations

import difflib

import pytest

from tests import readme_examples


@pytest.mark.demo
def test_the_readme_examples_are_what_the_demo_prints():
    ours, theirs = readme_examples.normal(readme_examples.quoted()), \
        readme_examples.normal(readme_examples.generate())
    assert ours == theirs, "README examples are stale (python -m tests.readme_examples):\n" + \
        "\n".join(difflib.unified_diff(ours.splitlines(), theirs.splitlines(), lineterm=""))


def test_the_readme_examples_name_a_book_of_the_demo_and_are_well_formed():
    """Without running the demo: the block exists, every command is a real one and the ASIN
    it uses is the one in its table."""
    block = readme_examples.quoted()
    commands = [line for line in block.splitlines() if line.startswith("$ arbitrage ")]
    assert len(commands) == len(readme_examples.STEPS)
    asin = commands[1].split()[5]  # $ arbitrage --db demo.db explain ASIN
    assert f"│ {asin} │" in block and all(asin in c for c in commands[1:4])
