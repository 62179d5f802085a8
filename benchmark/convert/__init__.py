"""Checkpoint layouts the field ships → the transformers layout the backends load.

:mod:`.llava` converts the original LLaVA codebase's checkpoints (``LlavaLlamaForCausalLM``
bases, LoRA adapters with ``non_lora_trainables.bin``) into ``LlavaForConditionalGeneration``
folders and transformers-named adapters.
"""
