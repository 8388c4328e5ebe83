"""Tokenizer and vocabulary file: round trips, unknown words, Chinese characters, bad files."""

import pytest

from conversion.datasets.tokenizer import build_vocabulary
from edge_captioner.bundle.vocab import SPECIAL_TOKENS, Vocabulary, detokenize, tokenize
from edge_captioner.errors import BadInput

EN = [
    "A person is standing at the front door.",
    "a person at the front door",
    "Two grey cats on the sofa!",
    "there are two cats on the sofa",
    "a red car in the driveway",
]
ZH = ["前门口有一个人。", "客厅的沙发上有两只灰色的猫", "车道上停着一辆红色的汽车，夜里"]


def test_english_is_lowercase_words_without_punctuation():
    assert tokenize("A person, at the FRONT door!", "en") == ["a", "person", "at", "the", "front",
                                                               "door"]
    assert tokenize("it's a dog's life", "en") == ["it's", "a", "dog's", "life"]


def test_chinese_is_characters_without_punctuation_and_keeps_latin_words():
    assert tokenize("前门口有一个人。", "zh") == list("前门口有一个人")
    assert tokenize("车道上有一辆SUV，2辆车", "zh") == [*"车道上有一辆", "suv", "2", "辆", "车"]
    # full-width punctuation and spaces are dropped, full-width digits normalised
    assert tokenize("猫 ，狗！１", "zh") == ["猫", "狗", "1"]


def test_unsupported_language_is_bad_input():
    with pytest.raises(BadInput, match="unsupported caption language 'fr'"):
        tokenize("bonjour", "fr")


def test_build_counts_and_min_count():
    vocab = build_vocabulary(EN, "en", min_count=2)
    assert vocab.tokens[:4] == list(SPECIAL_TOKENS)
    assert "person" in vocab.tokens and "cats" in vocab.tokens
    assert "red" not in vocab.tokens  # seen once
    # most frequent first, ties alphabetical: deterministic ids
    counts = vocab.counts[4:]
    assert counts == sorted(counts, reverse=True)
    assert build_vocabulary(list(reversed(EN)), "en", min_count=2).tokens == vocab.tokens


@pytest.mark.parametrize("language,captions", [("en", EN), ("zh", ZH)])
def test_encode_decode_round_trip(tmp_path, language, captions):
    vocab = build_vocabulary(captions, language, min_count=1)
    path = tmp_path / "vocab.txt"
    vocab.save(path)
    loaded = Vocabulary.load(path)
    assert loaded.tokens == vocab.tokens and loaded.counts == vocab.counts
    assert loaded.language == language
    for caption in captions:
        ids = loaded.encode(caption)
        assert ids[0] == loaded.start_id and ids[-1] == loaded.end_id
        assert loaded.decode(ids) == detokenize(tokenize(caption, language), language)


def test_unknown_words_become_unk_and_decode_stops_at_end():
    vocab = build_vocabulary(EN, "en", min_count=1)
    ids = vocab.encode("a purple elephant at the door")
    assert ids.count(vocab.unk_id) == 2
    assert vocab.decode(ids) == "a <unk> <unk> at the door"
    person = vocab.id_of("person")
    assert vocab.decode([vocab.start_id, person, vocab.end_id, person]) == "person"
    assert vocab.decode([10_000]) == "<unk>"  # an id out of range never raises


def test_chinese_decode_joins_characters_without_spaces():
    vocab = build_vocabulary(ZH, "zh", min_count=1)
    assert vocab.decode(vocab.encode("前门口有一个人")) == "前门口有一个人"


@pytest.mark.parametrize(
    "content,message",
    [
        ("", "bad header"),
        ("hello\n", "bad header"),
        ("# edge-captioner vocabulary v1 language=xx unit=word\n", "unsupported vocabulary language"),
        ("# edge-captioner vocabulary v1 language=en unit=word\n<pad>\t0\n<start> 0\n", ":3:"),
        ("# edge-captioner vocabulary v1 language=en unit=word\ncat\t1\n", "first tokens must be"),
        (
            "# edge-captioner vocabulary v1 language=en unit=word\n<pad>\t0\n<start>\t0\n"
            "<end>\t0\n<unk>\t0\ncat\t2\ncat\t1\n",
            "duplicate",
        ),
    ],
)
def test_bad_vocabulary_files_are_bad_input_naming_the_file(tmp_path, content, message):
    path = tmp_path / "vocab.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BadInput, match=message) as info:
        Vocabulary.load(path)
    assert str(path) in str(info.value)


def test_missing_vocabulary_file_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="cannot read vocabulary"):
        Vocabulary.load(tmp_path / "nope.txt")
