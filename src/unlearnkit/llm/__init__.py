"""Language-model unlearning: any Hugging Face causal LM, the MUSE six-way and TOFU evaluations.

- :mod:`unlearnkit.llm.world` — the embedded default: a generated people-and-facts world, its word-level
  tokenizer, a tiny GPT-2 target and a retrained reference (no download).
- :mod:`unlearnkit.llm.methods` — one file per method (GA, GA_GDR, GA_KLR, NPO, NPO_GDR, NPO_KLR, SimNPO,
  Task Vector, WHP, RMU, Retrain), registered with ``task="llm"``.
- :mod:`unlearnkit.llm.eval` — registered metrics (VerbMem, KnowMem, PrivLeak, utility, truth ratio, forget
  quality, model utility, Min-K%/Min-K%++/zlib/loss MIAs) and the MUSE protocols (stop rule, scalability,
  sustainability).
- :mod:`unlearnkit.llm.data`, :mod:`unlearnkit.llm.hub` — splits from files, MUSE/TOFU loaders (``datasets``).

Everything here needs the ``[llm]`` extra (transformers, rouge-score); importing this package does not.
"""
