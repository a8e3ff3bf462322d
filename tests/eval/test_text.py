import pytest
from fugashi import Tagger
from rouge_score import rouge_scorer

from tenken.eval.text import exact_match, normalize_answer, normalize_text, normalized_match, rouge_l

SAMPLES = [
    ("車は白色です。", "白色"),
    ("私は猫です。", "私は猫です。"),
    ("たかしが公園で遊んでいた。", "たかしが公園にいたようだ。"),
    ("池のほとりです。", "ここは湖の岸です。"),
    ("画像の2つのスーツケースの色は、黒と茶色に黄色のディテールです。", "スーツケースは黒と茶色です。"),
    ("赤いカラーコーンが2つあります", "カラーコーンは赤です"),
    ("", "何か"),
]


class DirectTokenizer:
    """rouge-score + fugashi directly, with the NFKC + whitespace normalisation only."""

    def __init__(self):
        self.tagger = Tagger("-Owakati")

    def tokenize(self, text):
        import unicodedata

        return self.tagger.parse(" ".join(unicodedata.normalize("NFKC", text).split())).split()


def direct(ref, pred):
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=DirectTokenizer())
    return 100 * scorer.score(ref, pred)["rougeL"].fmeasure


def test_word_tokens_matter_for_the_white_car_example():
    score = rouge_l(["車は白色です。"], ["白色"], use_neologdn=False)[0]
    # 5 reference tokens (車 は 白色 です 。), 1 prediction token, LCS 1: P=1, R=1/5, F=1/3
    assert score == pytest.approx(100 / 3)
    assert score == pytest.approx(direct("車は白色です。", "白色"))
    # rouge-score's default tokenizer drops Japanese entirely: the reason for MeCab tokens
    default = rouge_scorer.RougeScorer(["rougeL"]).score("車は白色です。", "白色")["rougeL"].fmeasure
    assert default == 0.0


@pytest.mark.parametrize("use_neologdn", [False, True])
def test_equals_direct_rouge_score_with_fugashi(use_neologdn):
    refs = [r for r, _ in SAMPLES]
    preds = [p for _, p in SAMPLES]
    ours = rouge_l(refs, preds, use_neologdn=use_neologdn)
    assert ours == pytest.approx([direct(r, p) for r, p in SAMPLES], abs=1e-9)
    assert ours[1] == 100.0


def test_llm_jp_eval_mm_reference_values():
    assert rouge_l(["たかしが公園で遊んでいた。"], ["たかしが公園にいたようだ。"])[0] == pytest.approx(66.66, abs=0.01)
    assert rouge_l(["池のほとりです。"], ["ここは湖の岸です。"])[0] == pytest.approx(50.0, abs=0.01)


def test_normalisation_folds_width_and_whitespace():
    assert normalize_text("ＡＢＣ　１２３  x\ty", use_neologdn=False) == "ABC 123 x y"
    assert rouge_l(["ＡＢＣです"], ["ABCです"])[0] == 100.0


def test_emoji_are_dropped_before_tokenising():
    assert normalize_text("白色です😀🚗", use_neologdn=False) == "白色です"
    assert rouge_l(["白色です"], ["白色です😀"])[0] == 100.0


def test_exact_and_normalised_match():
    refs = ["はい", "Yes.", "カラーコーン", "2"]
    preds = ["はい。", "yes", "カラーコーン", " 2 "]
    assert exact_match(refs, preds) == [0.0, 0.0, 1.0, 1.0]
    assert normalized_match(refs, preds) == [1.0, 1.0, 1.0, 1.0]
    assert normalize_answer("「テーブル」です。") == "テーブルです"  # the long-vowel mark is kept
    assert normalized_match([""], [""]) == [0.0]  # an empty reference never matches


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="2 references but 1"):
        rouge_l(["a", "b"], ["a"])
