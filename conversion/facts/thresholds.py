"""The least detector score that makes an object a fact, per kind: the facts bundles' manifest
`evidence.thresholds`. Chosen on the tune half of the real photos (docs/model-card.md says how);
kinds not listed use DEFAULT_THRESHOLD."""

DEFAULT_THRESHOLD = 0.5
THRESHOLDS: dict[str, float] = {}
