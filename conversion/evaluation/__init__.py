"""Caption quality of bundles: `evaluate`, its metrics and its HTML report."""
