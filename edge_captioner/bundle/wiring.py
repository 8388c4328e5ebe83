"""How a bundle's two graphs connect: the manifest's "decoder" section.

The runtime runs ANY decoder type from this description alone, without a code path per type:

    "decoder": {
      "type": "attention",                          # informative: show_and_tell | attention
      "token": "token",                             # decoder input: the previous token, one-hot
      "logits": "log_probs",                        # decoder output: next-token scores
      "normalised": true,                           # they are log-probabilities already (a
                                                    # LOG_SOFTMAX ends the graph); false or
                                                    # absent: raw logits, normalised in numpy
      "initial": {"h": "h0", "c": "c0", ...},       # decoder input <- encoder output
      "state": {"h": "h_out", "c": "c_out"},        # decoder input <- its own output, next step
      "attention": "attention",                     # decoder output: weights per location, or null
      "attention_grid": [4, 4]                      # rows, cols of those locations, or null
    }

Every decoder input is the token or is named in "initial"; inputs named in "state" change every
step, the others (image gates, attention keys and values) stay as the encoder made them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput

# Bundles written before the "decoder" section existed (format 1, among them the shipped
# default-en and default-zh, whose files are hash-checked and must not be rewritten) are all
# Show-and-Tell, and their converter always named the tensors like this.
SHOW_AND_TELL_WIRING = {
    "type": "show_and_tell",
    "token": "token",
    "logits": "logits",
    "initial": {"h": "h0", "c": "c0", "image_gates": "image_gates"},
    "state": {"h": "h_out", "c": "c_out"},
    "attention": None,
    "attention_grid": None,
}


@dataclass(frozen=True)
class DecoderWiring:
    type: str
    token: str
    logits: str
    initial: dict[str, str]  # decoder input <- encoder output
    state: dict[str, str]  # decoder input <- decoder output of the previous step
    attention: str | None = None
    attention_grid: tuple[int, int] | None = None
    normalised: bool = False  # `logits` holds log-probabilities (the graph ends in LOG_SOFTMAX)

    def to_json(self) -> dict:
        """The manifest's "decoder" section, keys in the order the converter writes them."""
        return {"type": self.type, "token": self.token, "logits": self.logits,
                "normalised": self.normalised, "initial": dict(self.initial),
                "state": dict(self.state), "attention": self.attention,
                "attention_grid": list(self.attention_grid) if self.attention_grid else None}


def _names(value: object) -> bool:
    return (isinstance(value, dict) and bool(value)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()))


def parse_wiring(manifest: dict, manifest_path: Path) -> DecoderWiring:
    """The manifest's decoder wiring (derived for old Show-and-Tell bundles), checked for shape
    and consistency; BadInput naming the manifest otherwise. The tensor names are checked against
    the graphs by `check_against_graphs` once the interpreters are loaded."""
    raw = manifest.get("decoder")
    if raw is None:
        if manifest.get("decoder_type") != "show_and_tell":
            raise BadInput(f"{manifest_path}: no 'decoder' section, and decoder_type "
                           f"{manifest.get('decoder_type')!r} has no default wiring")
        raw = SHOW_AND_TELL_WIRING
    where = f"{manifest_path}: 'decoder'"
    if not isinstance(raw, dict):
        raise BadInput(f"{where} must be an object")
    for key in ("type", "token", "logits"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise BadInput(f"{where}.{key} must be a tensor name")
    for key in ("initial", "state"):
        if not _names(raw.get(key)):
            raise BadInput(f"{where}.{key} must map decoder inputs to tensor names")
    if "decoder_type" in manifest and manifest["decoder_type"] != raw["type"]:
        raise BadInput(f"{where}.type {raw['type']!r} contradicts decoder_type "
                       f"{manifest['decoder_type']!r}")
    stray = sorted(set(raw["state"]) - set(raw["initial"]))
    if stray:
        raise BadInput(f"{where}.state: {stray} have no initial value in 'initial'")
    if raw["token"] in raw["initial"]:
        raise BadInput(f"{where}: the token input {raw['token']!r} is also in 'initial'")
    normalised = raw.get("normalised", False)
    if not isinstance(normalised, bool):
        raise BadInput(f"{where}.normalised must be true or false")
    attention, grid = raw.get("attention"), raw.get("attention_grid")
    if attention is not None and not (isinstance(attention, str) and attention):
        raise BadInput(f"{where}.attention must be a tensor name or null")
    if attention is not None:
        if (not isinstance(grid, list) or len(grid) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 256
                           for v in grid)):
            raise BadInput(f"{where}.attention_grid must be [rows, cols]")
        grid = (grid[0], grid[1])
    else:
        grid = None
    return DecoderWiring(type=raw["type"], token=raw["token"], logits=raw["logits"],
                         initial=dict(raw["initial"]), state=dict(raw["state"]),
                         attention=attention, attention_grid=grid, normalised=normalised)


def check_against_graphs(wiring: DecoderWiring, encoder_outputs: dict, decoder_inputs: dict,
                         decoder_outputs: dict, manifest_path: Path) -> None:
    """Every name in the wiring is a tensor of the right graph, and every decoder input is fed.
    The dicts map tensor names to their shapes."""
    where = f"{manifest_path}: 'decoder'"
    missing = sorted(set(wiring.initial.values()) - set(encoder_outputs))
    if missing:
        raise BadInput(f"{where}.initial names {missing}, which the encoder does not output")
    fed = {wiring.token, *wiring.initial}
    if fed != set(decoder_inputs):
        raise BadInput(f"{where}: feeds {sorted(fed)} but the decoder's inputs are "
                       f"{sorted(decoder_inputs)}")
    wanted = {wiring.logits, *wiring.state.values()} | ({wiring.attention} if wiring.attention
                                                         else set())
    missing = sorted(wanted - set(decoder_outputs))
    if missing:
        raise BadInput(f"{where} names {missing}, which the decoder does not output")
    for name, source in wiring.initial.items():
        if list(encoder_outputs[source]) != list(decoder_inputs[name]):
            raise BadInput(f"{where}.initial: encoder output {source!r} does not fit decoder "
                           f"input {name!r}")
    for name, source in wiring.state.items():
        if list(decoder_outputs[source]) != list(decoder_inputs[name]):
            raise BadInput(f"{where}.state: decoder output {source!r} does not fit input {name!r}")
    if wiring.attention:
        rows, cols = wiring.attention_grid
        if _size(decoder_outputs[wiring.attention]) != rows * cols:
            raise BadInput(f"{where}.attention: {wiring.attention!r} does not have "
                           f"{rows}x{cols} weights")


def _size(shape) -> int:
    size = 1
    for dim in shape:
        size *= int(dim)
    return size
