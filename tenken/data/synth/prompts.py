"""Every prompt the data engine sends to a teacher, in Japanese and English, each with a version.

A prompt's ``version`` (``"count.expressions/1"``) is written into the provenance of every sample it helped
make; change the wording -> bump the version, so a dataset can be split by the prompts that made it.
``{name}`` fields are filled by :meth:`Prompt.fill` (plain replacement, so JSON braces need no escaping).
``docs/data.md`` shows each prompt verbatim (a test keeps them in step).

The *training* questions of the samples (what the student model is asked) are tenken's inference prompts
(:mod:`tenken.tasks.prompts`: grounding, counting, VQA, anomaly pass 1), so a model trained on this data is
asked at inference exactly what it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenken.configs import Lang
from tenken.core.errors import InputError


@dataclass(frozen=True)
class Prompt:
    """One versioned prompt in both languages."""

    version: str
    ja: str
    en: str

    def fill(self, lang: Lang, **fields: str) -> str:
        """The ``lang`` text with each ``{name}`` replaced by ``fields[name]``."""
        if lang not in ("ja", "en"):
            raise InputError(f"lang must be 'ja' or 'en', got {lang!r}")
        text = self.ja if lang == "ja" else self.en
        for k, v in fields.items():
            text = text.replace("{" + k + "}", str(v))
        return text


# -- count -----------------------------------------------------------------------------------------------------
COUNT_EXPRESSIONS = Prompt(
    "count.expressions/1",
    ja="画像に写っている物体の種類を挙げてください。種類ごとに、それを指す短い説明的な表現（例:「赤い車」「ヘルメットを"
    "かぶった人」）と、その数を答えてください。はっきり見えるものだけを数えてください。"
    'JSONだけを出力してください: [{"expression": "表現", "count": 数}]',
    en="List the kinds of objects visible in the image. For each kind give a short descriptive expression that "
    'refers to them (for example "red cars" or "people wearing helmets") and how many there are. Count only '
    'what is clearly visible. Output JSON only: [{"expression": "...", "count": N}]',
)

# -- rec -------------------------------------------------------------------------------------------------------
REC_EXPRESSIONS = Prompt(
    "rec.expressions/1",
    ja="画像の中の物体のグループを指し示す表現を書いてください。各表現は、そのグループの物体をすべて、そしてそれ以外の物体を"
    "含まないように指すこと（例:「黒い車」「左側の人」）。グループは1個でも複数個でも構いません。各表現について、"
    "指している物体すべてのバウンディングボックスを答えてください。JSONだけを出力してください: "
    '[{"expression": "表現", "boxes": [[x1, y1, x2, y2], ...]}]{scale}',
    en="Write referring expressions for groups of objects in the image. Each expression must refer to every "
    'object of its group and to no other object (for example "the black cars" or "the person on the left"); a '
    "group may hold one object or several. For each expression give the bounding box of every object it "
    'refers to. Output JSON only: [{"expression": "...", "boxes": [[x1, y1, x2, y2], ...]}]{scale}',
)

# -- tool-rec --------------------------------------------------------------------------------------------------
TOOL_DESCRIBE = Prompt(
    "tool-rec.describe/1",
    ja="画像の領域 {box} にある物体を、画像の中の他のどの物体とも区別できる短い名詞句で説明してください"
    "（種類・色・位置など）。名詞句だけを出力してください。{scale}",
    en="Describe the object in the region {box} of the image with one short noun phrase that tells it apart "
    "from every other object in the image (its kind, colour, position). Output the phrase only.{scale}",
)

# -- spatial ---------------------------------------------------------------------------------------------------
SPATIAL_OBJECTS = Prompt(
    "spatial.objects/1",
    ja="画像に見えている物体を挙げてください。似たものが複数あるときは位置や色の語を加えて、それぞれに重ならない短い名前を"
    "付けてください。見えているものだけを書き、推測はしないでください。名前は label に入れてください。{fmt}",
    en="List the objects that are visible in the image. Give each a short name of its own (add a position or "
    "colour word when two are alike). Include only what is visible; do not guess. Put the name in label. {fmt}",
)
SPATIAL_TRIPLETS = Prompt(
    "spatial.triplets/1",
    ja="画像には次の物体が見えています: {objects}\nこれらの物体について「主語・関係・目的語」の三つ組を書いてください。"
    "関係は次のものだけを使ってください: {relations}。画像で確かめられる関係だけを書いてください。"
    'JSONだけを出力してください: [{"subject": "名前", "relation": "関係", "object": "名前"}]',
    en="These objects are visible in the image: {objects}\nWrite subject-relation-object triplets about them. "
    "Use only these relations: {relations}. Write only relations that can be verified in the image. "
    'Output JSON only: [{"subject": "name", "relation": "relation", "object": "name"}]',
)
SPATIAL_QA = Prompt(
    "spatial.qa/1",
    ja="事実: {subject} は {object} に対して {relation} の関係にあります。\nこの事実を問う質問と答えの組を {n} 個、"
    "言い回しを変えて書いてください。答えはこの事実だけから導けること。"
    'JSONだけを出力してください: [{"question": "質問", "answer": "答え"}]',
    en="Fact: {subject} is {relation} {object}.\nWrite {n} question-answer pairs, each worded differently, "
    "that ask about this fact; every answer must follow from the fact alone. "
    'Output JSON only: [{"question": "...", "answer": "..."}]',
)

# -- caption-qa ------------------------------------------------------------------------------------------------
CAPTION = Prompt(
    "caption-qa.caption/1",
    ja="この画像を数文で説明してください。画像を見て確かめられる事実だけを書いてください: 写っている物体、その色・数・"
    "位置、読める文字。意図・気持ち・時刻・場所の推測は書かないでください。",
    en="Describe the image in a few sentences. State only facts that can be verified by looking at the image: "
    "the objects, their colours, counts and positions, and any legible text. Do not guess intentions, "
    "feelings, time or place.",
)
QA_FROM_CAPTION = Prompt(
    "caption-qa.qa/1",
    ja="ある画像の説明です:\n{caption}\nこの説明だけから答えられる、画像についての質問と答えの組を "
    "{n} 個書いてください。"
    '{style}JSONだけを出力してください: [{"question": "質問", "answer": "答え"}]',
    en="Here is a description of an image:\n{caption}\nWrite {n} question-answer pairs about the image that "
    'can be answered from this description alone. {style}Output JSON only: [{"question": "...", "answer": "..."}]',
)
QA_STYLE_SHORT = Prompt(
    "caption-qa.style-short/1",
    ja="答えは単語か短いフレーズにしてください。",
    en="Each answer must be a single word or a short phrase. ",
)
QA_STYLE_FREE = Prompt(
    "caption-qa.style-free/1",
    ja="答えは1〜2文の完全な文にしてください。",
    en="Each answer must be one or two full sentences. ",
)

# -- translate -------------------------------------------------------------------------------------------------
TRANSLATE = Prompt(
    "translate/1",
    ja="次の英文を自然な日本語に翻訳してください。\n規則:\n- ⟦1⟧ のような記号はそのまま残してください"
    "（翻訳してはいけない語句の代わりです）。\n- 訳文だけを出力してください。\n{context}{shots}英文: {text}\n日本語:",
    en="Translate the English text into natural Japanese.\nRules:\n- Keep every marker such as ⟦1⟧ exactly as it "
    "is (it stands for words that must not be translated).\n- Output the Japanese translation only.\n"
    "{context}{shots}English: {text}\nJapanese:",
)
TRANSLATE_CONTEXT = Prompt(
    "translate.context/1",
    ja="文脈（翻訳しないこと）: 画像の内容: {description}\n同じ画像についての他の文: {others}\n",
    en="Context (do not translate it): the image shows: {description}\nOther texts about the same image: {others}\n",
)
TRANSLATE_SHOTS_REC = Prompt(
    "translate.shots-rec/1",
    ja="例（名詞句は名詞句のまま訳す）:\n英文: the black cars on the left\n日本語: 左側の黒い車\n"
    "英文: a worker holding a wrench\n日本語: レンチを持っている作業員\n"
    "英文: the largest cone\n日本語: 一番大きいコーン\n",
    en="Examples (a noun phrase stays a noun phrase):\nEnglish: the black cars on the left\nJapanese: 左側の黒い車\n"
    "English: a worker holding a wrench\nJapanese: レンチを持っている作業員\nEnglish: the largest cone\n"
    "Japanese: 一番大きいコーン\n",
)


PROMPTS: tuple[Prompt, ...] = (
    COUNT_EXPRESSIONS, REC_EXPRESSIONS, TOOL_DESCRIBE, SPATIAL_OBJECTS, SPATIAL_TRIPLETS, SPATIAL_QA, CAPTION,
    QA_FROM_CAPTION, QA_STYLE_SHORT, QA_STYLE_FREE, TRANSLATE, TRANSLATE_CONTEXT, TRANSLATE_SHOTS_REC,
)  # fmt: skip
"""Every prompt of the data engine (for docs and tests)."""
