"""Stage C and D: per-run diagnostic plots and the promotion gallery (matplotlib, Agg backend)."""
