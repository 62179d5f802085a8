"""The offline end-to-end demo: tiny models, its baselines, and the run itself.

- :mod:`.tiny_models`: a tiny LLaVA-shaped model and LoRA adapters, built locally;
- :mod:`.baselines`: training the reference baselines (sequential LoRA, replay, joint);
- :mod:`.run`: prepare → train → evaluate → site → the printed leaderboard.
"""
