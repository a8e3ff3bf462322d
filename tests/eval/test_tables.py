from tenken.eval.tables import compare_table, markdown_table, run_table, size_table


def test_markdown_table_formats_numbers_and_none():
    text = markdown_table(["a", "b"], [["x", 0.123456], ["y", None], ["z|w", 33.3333]])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x | 0.1235 |", "| y | – |", "| z\\|w | 33.33 |"]


def test_run_and_compare_tables():
    det = {
        "benchmark": "anomaly", "model": "classical", "task": "detection", "n_samples": 2, "n_errors": 0,
        "seconds_per_sample": 0.5,
        "scores": {
            "f1_bbox": 0.5, "f1_bbox_label": 0.25, "map50": 0.4, "map50_bbox": 0.6,
            "size_quartiles": [{"name": "Q1", "lower": 1.0, "upper": 20.0, "n_boxes": 3, "n_samples": 2,
                                "recall": 1.0, "agreement": 0.5, "recall_label": 0.5}],
            "size_lower_bounds": [{"name": "0 px or larger", "lower": 0.0, "upper": None, "n_boxes": 3,
                                   "n_samples": 2, "recall": 1.0, "agreement": None, "recall_label": 0.5}],
            "input": {"n_skipped": 1, "n_missing": 0},
        },
    }  # fmt: skip
    det["primary"] = {"metric": "f1_bbox_label", "mean": 0.25, "ci95": [0.1, 0.4]}
    text = run_table(det)
    assert "| f1_bbox_label (mean, 95% CI) | 0.25 [0.1, 0.4] |" in text
    assert "| f1_bbox | 0.5 |" in text and "| skipped lines | 1 |" in text
    assert "| Q1 | 1–20 px | 3 | 2 | 1 | 0.5 | 0.5 |" in size_table(det["scores"])
    vqa = {"benchmark": "vqa", "model": "m", "task": "vqa", "n_samples": 3, "n_errors": 1,
           "scores": {"rouge_l": 41.5, "exact_match": 0.0}}  # fmt: skip
    cmp = compare_table([det, vqa], ["run-a", "run-b"])
    lines = cmp.splitlines()
    assert lines[0] == "| metric | run-a | run-b |"
    assert "| f1_bbox | 0.5 | – |" in lines and "| rouge_l | – | 41.5 |" in lines


def test_an_empty_size_bucket_reads_as_a_dash_not_nan():
    # eval rec printed "nan" for a size bucket with no samples while eval detection printed "–"
    table = markdown_table(["size", "n", "acc"], [["medium", 0, float("nan")]])
    assert table.splitlines()[-1] == "| medium | 0 | – |"


def test_compare_table_names_the_settings_that_differ():
    # two runs of one model with other --param looked identical apart from the folder name
    runs = [
        {"benchmark": "anomaly", "model": "classical", "task": "detection", "settings": {}, "scores": {}},
        {"benchmark": "anomaly", "model": "classical", "task": "detection", "scores": {},
         "settings": {"detector": None, "params": ["sensitivity=6"], "registered": True}},
    ]  # fmt: skip
    row = next(x for x in compare_table(runs, ["a", "b"]).splitlines() if x.startswith("| settings"))
    assert row == "| settings | default | sensitivity=6; registered |"
