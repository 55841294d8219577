"""Inter-coder agreement, model evaluation and the collation outputs."""
