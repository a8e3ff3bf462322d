import pytest

from tenken import ConfigError, load_anomaly_classes, load_task_set
from tenken.configs import UNKNOWN


def test_default_classes_match_design():
    cls = load_anomaly_classes()
    assert len(cls.classes) == 14
    assert cls.ids[0] == "plastic_bottle" and cls.ids[-1] == "water_leakage"
    assert cls.display("traffic_cone", "ja") == "カラーコーン"
    assert cls.display("traffic_cone", "en") == "traffic cone"
    assert cls.display("change", "ja") == "change"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("traffic_cone", "traffic_cone"),
        ("Traffic Cone", "traffic_cone"),
        ("カラーコーン", "traffic_cone"),
        ("「ペットボトル」", "plastic_bottle"),
        ("ＰＥＴ ｂｏｔｔｌｅ", "plastic_bottle"),  # full-width
        ("It looks like an open door.", "open_door"),
        ("水漏れです", "water_leakage"),
        ("a bicycle", UNKNOWN),
        ("", UNKNOWN),
    ],
)
def test_normalize_maps_answers_to_known_ids(answer, expected):
    assert load_anomaly_classes().normalize(answer) == expected


def test_task_set_example_is_complete():
    ts = load_task_set()
    assert len(ts.tasks) == 10
    for t in ts.tasks:
        assert t.tool.ja and t.tool.en and t.description.ja and t.description.en
    assert ts.normalize("はんだ付け") == "soldering"


def test_custom_files_are_validated(tmp_path):
    good = tmp_path / "c.yaml"
    good.write_text("name: mine\nclasses:\n  - {id: rust, en: rust, ja: 錆}\n", encoding="utf-8")
    assert load_anomaly_classes(good).ids == ["rust"]

    dup = tmp_path / "dup.yaml"
    dup.write_text("classes:\n  - {id: a, en: a, ja: あ}\n  - {id: a, en: b, ja: い}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="duplicate class id 'a'"):
        load_anomaly_classes(dup)

    missing_ja = tmp_path / "m.json"
    missing_ja.write_text('{"classes": [{"id": "a", "en": "a"}]}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"m.json: classes.0.ja"):
        load_anomaly_classes(missing_ja)

    bad_yaml = tmp_path / "b.yaml"
    bad_yaml.write_text("classes: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_anomaly_classes(bad_yaml)

    with pytest.raises(ConfigError, match="not found"):
        load_task_set(tmp_path / "nope.yaml")


def test_unreadable_config_inputs_are_config_errors(tmp_path):
    binary = tmp_path / "photo.yaml"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01")  # a JPEG's first bytes: was a UnicodeDecodeError
    with pytest.raises(ConfigError, match=r"photo\.yaml: not a text file"):
        load_anomaly_classes(binary)
    with pytest.raises(ConfigError, match="is a directory"):
        load_task_set(tmp_path)
    broken = tmp_path / "broken.yaml"
    broken.write_text("classes: [\n")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load_anomaly_classes(broken)
    assert "\n" not in str(info.value)  # one line in a log
