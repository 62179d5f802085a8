"""mllmcl-bench: benchmark suite, evaluation harness and leaderboard for continual learning
of multimodal LLMs."""

__version__ = "0.1.0"
