"""Where the repository's files are, for tests in any folder."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEST_DATA = REPO / "tests" / "data"
SHIPPED_BUNDLES = REPO / "edge_captioner" / "data" / "bundles"
SAMPLE_CLIP = REPO / "edge_captioner" / "data" / "sample_porch.mp4"
BENCHMARKS = REPO / "benchmarks"
