"""Factory task analysis: which task of a task set is the worker doing, judged by the tool in hand."""

from __future__ import annotations

import re

from tenken.configs import UNKNOWN, Lang, TaskSet
from tenken.core.images import ImageInput, load_image
from tenken.tasks.prompts import CLASSIFY_OPTION, CLASSIFY_TASK, fill
from tenken.vlm.backends.base import VLMRequest
from tenken.vlm.model import VLM
from tenken.vlm.parse import answer_text


def task_prompt(taskset: TaskSet, lang: Lang = "ja") -> str:
    """The prompt listing each task with its tool and the tool's visual description."""
    options = "\n".join(
        fill(
            CLASSIFY_OPTION,
            lang,
            id=t.id,
            name=t.name(lang),
            tool=t.tool.ja if lang == "ja" else t.tool.en,
            description=t.description.ja if lang == "ja" else t.description.en,
        )
        for t in taskset.tasks
    )
    return fill(CLASSIFY_TASK, lang, options=options)


def normalize_task_answer(answer: str, taskset: TaskSet) -> str:
    """A model answer -> a task id of ``taskset`` or ``"unknown"``.

    Accepts an id, a task name or alias (JA/EN, any width/case, inside prose), or the tool's name.
    """
    text = answer_text(answer)
    label = taskset.normalize(text)
    if label != UNKNOWN:
        return label
    ids = [t.id for t in taskset.tasks if re.search(rf"(?<![a-z_]){re.escape(t.id)}(?![a-z_])", text)]
    if len(ids) == 1:
        return ids[0]
    tools = [t.id for t in taskset.tasks if t.tool.en.lower() in text.lower() or t.tool.ja in text]
    return tools[0] if len(tools) == 1 else UNKNOWN


def classify_task(
    vlm: VLM, image: ImageInput, taskset: TaskSet, lang: Lang = "ja", max_new_tokens: int | None = 32
) -> str:
    """The id of the task in ``taskset`` the image shows, or ``"unknown"``."""
    req = VLMRequest(task_prompt(taskset, lang), [load_image(image)], max_new_tokens=max_new_tokens)
    return normalize_task_answer(vlm.generate([req])[0], taskset)
