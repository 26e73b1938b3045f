"""Graph unlearning methods, one module per method, each registered with ``family="graph"``."""
