"""Translations come from the gettext catalogs (geo_antt/locale), and every message has both
languages: the catalog template matches the code, each message has its Vietnamese, with the same
fields; the import preview gives its reasons in Vietnamese for the page.
"""

from __future__ import annotations

import importlib.util
import pickle
import string
import unicodedata
from pathlib import Path

from geo_antt import i18n
from geo_antt.i18n import Message, msg, translate
from geo_antt.io import load_models

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("geo_antt_i18n_script", ROOT / "scripts" / "i18n.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _cp1258(text: str) -> bytes:
    """``text`` as Windows-1258 writes Vietnamese: â ê ô ă ơ ư đ precomposed, tone marks combining."""
    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        shape = "".join(c for c in parts[1:] if c in "\u0302\u0306\u031b")  # circumflex, breve, horn
        tones = "".join(c for c in parts[1:] if c not in shape)
        out += unicodedata.normalize("NFC", parts[0] + shape).encode("cp1258") + tones.encode("cp1258")
    return out


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_the_catalog_template_matches_the_code_and_every_message_has_vietnamese():
    found = _script().problems()
    assert found == [], "\n".join(found[:20])


def test_every_translation_has_the_fields_of_its_message():
    cat = i18n.catalog("vi")
    assert cat is not None
    checked = 0
    for m in cat:
        if not m.id:
            continue
        assert _fields(m.string) == _fields(m.id), (m.id, m.string)
        checked += 1
    assert checked >= 60


def test_a_message_is_its_english_text_and_translates_with_its_parameters():
    m = msg("duplicate id (first at row {row})", row=7)
    assert m == "duplicate id (first at row 7)" and isinstance(m, str)
    assert translate(m, "vi") == "mã trùng (đã có ở dòng 7)"
    assert translate(m, "en") == str(m)
    # parameters that are messages are translated too; a job's result crosses processes
    nested = msg("malformed number: {reason}", reason=msg("not a number (several dots)"))
    assert translate(nested, "vi") == "số không hợp lệ: không phải là số (có nhiều dấu chấm)"
    back = pickle.loads(pickle.dumps(nested))
    assert isinstance(back, Message) and back == nested and translate(back, "vi") == translate(nested, "vi")
    # text that is no message (a unit's name, a library's error) stays as it is
    assert translate("Xã Hương Mỹ", "vi") == "Xã Hương Mỹ"
    assert translate(Message("a message the catalog does not know {x}", {"x": 1}), "vi").endswith("know 1")


def test_the_reasons_a_new_user_read_in_english_are_vietnamese(tmp_path):
    """The three reasons of the officer's-day issue: swapped coordinates, unknown status, a
    file that is not UTF-8 (Windows-1258), each in Vietnamese beside its English.
    """
    text = (
        "mã,loại,tên,vĩ độ,kinh độ,hướng,tình trạng\n"
        "C1,camera,Cổng chợ,106.3010,10.1032,45,đang hoạt động\n"
        "C2,camera,Đình làng,10.1032,106.3010,45,đã dỡ bỏ hẳn\n"
    )
    p = tmp_path / "sổ.csv"
    p.write_bytes(_cp1258(text))
    _gdf, problems = load_models(p)
    by_field = {q.field: q for q in problems}
    swapped = by_field["vĩ độ"].to_dict()
    assert swapped["reason"].startswith("latitude and longitude are swapped")
    assert swapped["reason_vi"].startswith("vĩ độ và kinh độ bị đảo") and "hãy đổi chỗ hai cột" in swapped["reason_vi"]
    status = by_field["tình trạng"].to_dict()
    assert status["reason"].startswith("unknown status; use one of:")
    assert status["reason_vi"].startswith("tình trạng không rõ; dùng một trong:")
    encoding = next(q for q in problems if q.field is None and "UTF-8" in q.reason).to_dict()
    assert encoding["reason_vi"].startswith("tệp không phải UTF-8: đã đọc theo bảng mã Windows-1258 (tiếng Việt)")
    assert swapped["severity"] == "error" and by_field["vĩ độ"].model_id == "C1"


def test_the_command_line_writes_problems_in_the_language_asked(tmp_path, capsys, monkeypatch):
    from geo_antt.cli import main

    p = tmp_path / "so.csv"
    p.write_text("mã,loại,tên,vĩ độ,kinh độ,hướng\nC1,camera,Cổng chợ,106.3010,10.1032,45\n", encoding="utf-8")
    assert main(["--lang", "vi", "validate", str(p)]) == 1
    out = capsys.readouterr().out
    assert "lỗi: dòng 2, cột 'vĩ độ': vĩ độ và kinh độ bị đảo" in out and "swapped" not in out
    assert "(mô hình): 1 lỗi, 0 lưu ý, 0 dòng hợp lệ" in out and "1 tệp: 1 lỗi, 0 lưu ý" in out
    assert "error" not in out and "warning" not in out
    monkeypatch.setenv("GEO_ANTT_LANG", "")
    monkeypatch.setenv("LC_ALL", "")
    monkeypatch.setenv("LC_MESSAGES", "")
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")  # the locale of a Vietnamese desktop
    assert main(["validate", str(p)]) == 1
    assert "hãy đổi chỗ hai cột" in capsys.readouterr().out
    assert main(["--lang", "en", "validate", str(p)]) == 1
    assert "error: row 2, field 'vĩ độ': latitude and longitude are swapped" in capsys.readouterr().out
    # an error that stops a command is written in the language too
    bad = tmp_path / "bad.csv"
    bad.write_text("mã,loại,vĩ độ,kinh độ\nC1,camera,10.1,106.3\nC1,camera,10.1,106.3\n", encoding="utf-8")
    assert main(["--lang", "vi", "coverage", "--models", str(bad), "--out", str(tmp_path / "o.geojson")]) != 0
    err = capsys.readouterr().err
    assert "vấn đề" in err or "lỗi" in err, err


def test_api_errors_carry_their_vietnamese():
    from geo_antt._errors import GeoAnttError
    from geo_antt.app.planning import ServiceBusyError

    d = ServiceBusyError(msg("another plan or report is being computed; try again in a minute")).to_dict()
    assert d["message"].startswith("another plan") and d["message_vi"].startswith("hệ thống đang tính")
    plain = GeoAnttError("a library's own words").to_dict()
    assert plain["message_vi"] == plain["message"] == "a library's own words"
