"""Every prompt tenken sends to a VLM, in Japanese and English (one place, so wording is reviewed together).

The box-format sentence of grounding and detection prompts comes from the model family
(:meth:`tenken.vlm.families.Family.box_instruction`), since it must match the family's training.
"""

from __future__ import annotations

from tenken.configs import Lang
from tenken.core.errors import InputError

VQA_SHORT = {
    "ja": "{question}\n単語または短いフレーズで答えてください。",
    "en": "{question}\nAnswer the question using a single word or phrase.",
}
VIDEO_FRAMES = {
    "ja": "次の{n}枚の画像は1本の動画から等間隔に取り出したフレームです（時刻順、{times}秒）。\n{question}",
    "en": "The {n} images are frames sampled evenly from one video, in time order (at {times} s).\n{question}",
}
GROUND = {
    "ja": "画像の中の「{expression}」をすべて見つけて、それぞれのバウンディングボックスを出力してください。"
    "該当するものが複数あれば、すべてを別々に出力してください。{fmt}",
    "en": "Locate every {expression} in the image and output the bounding box of each one. If there are "
    "several, list all of them separately. {fmt}",
}
COUNT = {
    "ja": "画像の中に「{expression}」はいくつありますか。数字だけで答えてください。",
    "en": "How many {expression} are there in the image? Answer with a number only.",
}
CLASSIFY_TASK = {
    "ja": "作業員が行っている作業を、使っている工具から判断してください。候補の作業と工具の見た目:\n{options}\n"
    "当てはまる作業のIDを1つだけ答えてください（どれにも当てはまらなければ unknown）。",
    "en": "Decide which task the worker is doing from the tool they are using. Candidate tasks and how each "
    "tool looks:\n{options}\nAnswer with the ID of exactly one task (or unknown if none applies).",
}
CLASSIFY_OPTION = {
    "ja": "- {id}: {name}（工具: {tool} — {description}）",
    "en": "- {id}: {name} (tool: {tool} — {description})",
}
ANOMALY_PASS1 = {
    "ja": "左右の2枚の画像は同じ場所を写しています（左が現在、右が以前）。左の画像にあって右の画像にない物体を"
    "見つけてください。対象: {classes}。左の画像の中の位置だけを、左の画像の座標で出力してください。"
    "なければ [] を出力してください。{fmt}",
    "en": "The two images show the same place (left: now, right: before). Find objects present in the left "
    "image but missing in the right image: {classes}. Give positions in the left image only, in left-image "
    "coordinates. Output [] if there are none. {fmt}",
}
ANOMALY_MARKS = {
    "ja": "左右の2枚の画像は同じ場所を写しています（左が現在、右が以前）。変化の候補に番号の付いた枠を付け、右の画像の"
    "同じ位置にも同じ番号を付けました{crops}。左の画像にあって右の画像にない物体（対象: {classes}）が写っている候補の"
    '番号をすべて選んで、JSONで出力してください: {{"marks": [{{"mark": 番号, "label": "名前"}}, ...]}}。'
    '該当するものがなければ {{"marks": []}} を出力してください。座標は出力しないでください。',
    "en": "The two images show the same place (left: now, right: before). Candidate changes are outlined and "
    "numbered, with the same numbers at the same places in the right image{crops}. Choose every number whose "
    "object is present in the left image but missing in the right image ({classes}) and output JSON: "
    '{{"marks": [{{"mark": number, "label": "name"}}, ...]}}. Output {{"marks": []}} if none is. Do not output '
    "coordinates.",
}
ANOMALY_MARKS_CROPS_NOTE = {
    "ja": "（小さい候補は一番右に、現在の画像から拡大して同じ番号で並べています）",
    "en": " (small candidates are also shown enlarged from the left image, on the far right, with the same numbers)",
}
ANOMALY_PASS2 = {
    "ja": "この画像の中央にある物体は何ですか。次の中から1つだけ選んで、その名前だけを答えてください: {classes}。"
    "どれにも当てはまらなければ unknown と答えてください。",
    "en": "What is the object in the centre of this image? Choose exactly one of: {classes}. Answer with the "
    "name only, or unknown if none applies.",
}


def fill(template: dict[str, str], lang: Lang, **fields: str) -> str:
    """The ``lang`` version of ``template`` with ``fields`` filled in."""
    if lang not in template:
        raise InputError(f"lang must be 'ja' or 'en', got {lang!r}")
    return template[lang].format(**fields)
MARKS_GROUND = {
    "ja": "画像の中の物体候補に番号の付いた枠を付けました{crops}。「{expression}」に当たる候補の番号をすべて選んで、"
    'JSONで出力してください: {{"marks": [番号, ...]}}。該当するものがなければ {{"marks": []}} を出力してください。'
    "座標は出力しないでください。",
    "en": "Candidate objects in the image are outlined and numbered{crops}. Choose every number whose object is "
    '{expression} and output JSON: {{"marks": [number, ...]}}. Output {{"marks": []}} if none is. Do not '
    "output coordinates.",
}
MARKS_CROPS_NOTE = {
    "ja": "（小さい候補は右側に拡大して同じ番号で並べています）",
    "en": " (small candidates are also shown enlarged on the right with the same numbers)",
}
