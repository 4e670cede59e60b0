"""Every finding carries its rule's doc link: in text, in JSON, in the markdown report."""

from __future__ import annotations

import io
import json

from ci.findings import Finding, Result
from ci.output import Printer
from ci.report import Report, Step, markdown
from ci.rules.base import squawk_link
from ci.rules.roundtrip import DOWNGRADE_LEAVES_OBJECTS

LEFT = DOWNGRADE_LEAVES_OBJECTS.at_file("database/versions/07_x.py", "downgrade of 07 leaves "
                                        "column s.t.c behind", line=21, object="s.t.c")
SQUAWKED = Finding(check="lint", rule="require-concurrent-index-creation", message="blocks",
                   file="database/versions/15_x.py", line=9, hint="create it concurrently",
                   doc=squawk_link("require-concurrent-index-creation"))


def printed(*, as_json: bool) -> str:
    out = io.StringIO()
    printer = Printer(out=out, err=io.StringIO(), json=as_json)
    printer.result(Result(findings=[LEFT, SQUAWKED]))
    return out.getvalue()


def test_text_gives_a_doc_line_under_the_fix() -> None:
    assert printed(as_json=False).splitlines() == [
        "database/versions/07_x.py:21: [roundtrip/downgrade-leaves-objects] downgrade of 07 "
        "leaves column s.t.c behind",
        "    fix: drop the object in downgrade()",
        "    doc: https://github.com/dbci-dev/dbci/blob/main/docs/rules.md#downgrade-leaves-objects",
        "database/versions/15_x.py:9: [lint/require-concurrent-index-creation] blocks",
        "    fix: create it concurrently",
        "    doc: https://squawkhq.com/docs/require-concurrent-index-creation"]


def test_json_gives_a_doc_key_on_each_finding() -> None:
    docs = [f["doc"] for f in json.loads(printed(as_json=True))["findings"]]
    assert docs == ["docs/rules.md#downgrade-leaves-objects",
                    "https://squawkhq.com/docs/require-concurrent-index-creation"]


def test_the_markdown_report_links_each_rule_id() -> None:
    text = markdown(Report(steps=[Step("roundtrip", False, "1 failed")],
                           findings=[LEFT, SQUAWKED]))
    assert ("- **roundtrip/[downgrade-leaves-objects](https://github.com/dbci-dev/dbci/blob/main/docs/rules.md#downgrade-leaves-objects)**"
            " `database/versions/07_x.py:21`: ") in text
    assert ("**lint/[require-concurrent-index-creation](https://squawkhq.com/docs/"
            "require-concurrent-index-creation)**") in text


def test_a_report_read_back_keeps_the_links() -> None:
    report = Report(steps=[], findings=[LEFT])
    again = Report.from_json(json.dumps(report.to_json()))
    assert again.findings == [LEFT] and again.findings[0].doc == LEFT.doc
