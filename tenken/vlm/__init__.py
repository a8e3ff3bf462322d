"""Vision-language models: backends (transformers, OpenAI-compatible servers), model families (prompt and box
conventions), and robust parsing of their answers. Start with :func:`tenken.load_vlm`."""
