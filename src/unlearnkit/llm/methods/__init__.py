"""LM unlearning methods, one module each (registered with ``task="llm"``); :mod:`.base` holds the class tree."""
