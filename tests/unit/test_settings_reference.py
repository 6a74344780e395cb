"""The README's settings reference is the one the code generates: no setting goes undocumented."""

from __future__ import annotations

from pathlib import Path

from hub.settings import reference, reference_table

README = Path(__file__).parents[2] / "README.md"


def test_the_readme_lists_every_setting_as_the_code_has_it() -> None:
    text = README.read_text()
    block = text.split("<!-- settings:start -->\n", 1)[1].split("<!-- settings:end -->", 1)[0]
    assert block == reference_table(), "run `hub settings` and paste its table into the README"
    assert all(f"`{variable}`" in block for variable, _, _ in reference())
    assert all(meaning for _, _, meaning in reference()), "every setting says what it changes"
