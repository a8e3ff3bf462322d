"""VLM tasks, one question each: VQA (:mod:`.vqa`), grounding (:mod:`.grounding`), counting (:mod:`.counting`),
factory task recognition (:mod:`.factory`), and the VLM's pass-1 detector and pass-2 labeller for inspection
(:mod:`.anomaly`). Every prompt is in :mod:`.prompts`. Boxes come back in pixels of the image asked about."""
