"""The JSON format: the report dict as indented UTF-8 JSON (orjson), read back unchanged."""

from __future__ import annotations

import json

from registry.render import render, render_json


def test_json_reads_back_as_the_report(example):
    text = render(example, "json")
    assert json.loads(text) == json.loads(json.dumps(example))
    assert text.startswith('{\n  "report_version"')  # indented by two spaces
    assert text.endswith("}\n")


def test_json_writes_text_as_utf8_and_other_keys_as_text():
    raw = render_json({"display": "铁蛋白", 7: [1.5, None, True]})
    assert "铁蛋白".encode() in raw  # not \\u escapes
    assert json.loads(raw) == {"display": "铁蛋白", "7": [1.5, None, True]}
