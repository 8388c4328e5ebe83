"""Loading config.yaml: real files, the real console script; every bad key named, secrets never shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_captioner.config import CONFIG_ENV, PASSWORD_ENV, demo_config, load_config, reference, to_dict
from edge_captioner.config import loader as config_loader
from edge_captioner.config.checks import PLACE_MAX_CHARS
from edge_captioner.errors import BadInput
from support.config_files import DELETE, SECRET, patched, write
from support.paths import REPO

# the blanks the installed example leaves for the user (config.yaml, copied by install-service)
BLANKS = ["device_id", "mqtt.host", "cameras[0].source"]


# -- what loads ---------------------------------------------------------------------------------------------
def test_repo_example_publishes_nothing_until_its_blanks_are_filled(tmp_path):
    """The file install-service installs: a broker and a camera are not guessed (no demo device
    on a real broker); one line names every key still to set, and says what else to do."""
    with pytest.raises(BadInput) as caught:
        load_config(REPO / "config.yaml")
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(REPO / "config.yaml"))
    assert f"{', '.join(BLANKS)}: not set" in message
    assert "--demo" in message
    document = yaml.safe_load((REPO / "config.yaml").read_text())
    document["device_id"] = "porch-pi"
    document["mqtt"]["host"] = "hub.lan"
    document["cameras"][0]["source"] = "rtsp://10.0.0.5/stream1"
    config = load_config(write(tmp_path, document))  # filled in: it loads, nothing else to change
    assert config.device_id == "porch-pi" and config.mqtt.host == "hub.lan"
    assert config.mqtt.discovery.enabled and config.cameras[0].place is None
    assert "demo" not in yaml.safe_dump(to_dict(config))


@pytest.mark.parametrize("blank", ["device_id", "mqtt.host", "cameras.0.source", "cameras"])
def test_a_blank_is_named_as_not_set(tmp_path, blank):
    path = write(tmp_path, patched(**{blank: None}))
    key = blank.replace(".0.", "[0].")
    with pytest.raises(BadInput, match=rf"{re.escape(key)}: not set"):
        load_config(path)


def test_no_configuration_file_is_refused_not_the_demo(tmp_path, monkeypatch):
    monkeypatch.setattr(config_loader, "DEFAULT_CONFIG_PATHS", (str(tmp_path / "none.yaml"),))
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    with pytest.raises(BadInput) as caught:
        load_config(None)
    message = str(caught.value)
    assert "--config" in message and "--demo" in message and "\n" not in message


def test_the_demo_is_asked_for_and_cannot_be_mistaken():
    config = demo_config()
    assert config.source_path is None
    assert config.device_id == "edge-captioner-demo"
    assert not config.mqtt.discovery.enabled  # never a fake device in a real Home Assistant
    assert config.mqtt.port == 1883 and config.mqtt.host in ("127.0.0.1", "localhost")
    assert config.model.bundle == "default"
    assert [(c.name, c.source, c.loop) for c in config.cameras] == [("front_door", "sample", True)]


def test_etc_file_then_env_then_explicit(tmp_path, monkeypatch):
    etc = write(tmp_path, patched(device_id="from-etc"), "etc.yaml")
    monkeypatch.setattr(config_loader, "DEFAULT_CONFIG_PATHS", (str(etc),))
    assert load_config(None).device_id == "from-etc"
    monkeypatch.setenv(CONFIG_ENV, str(write(tmp_path, patched(device_id="from-env"), "env.yaml")))
    assert load_config(None).device_id == "from-env"
    assert load_config(write(tmp_path, patched(device_id="explicit"), "x.yaml")).device_id == "explicit"


def test_missing_explicit_or_env_file_is_an_error(tmp_path, monkeypatch):
    with pytest.raises(BadInput, match="no such configuration file"):
        load_config(tmp_path / "nope.yaml")
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "gone.yaml"))
    with pytest.raises(BadInput, match=CONFIG_ENV):
        load_config(None)


def test_values_are_normalised(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "yard.mp4").write_bytes(b"not decoded at load")
    document = patched(**{
        "mqtt.protocol": 5, "mqtt.tls": {}, "logging.level": "debug",
        "cameras.0.resolution": [640, 480],
    })
    document["cameras"] += [
        {"name": "yard", "source": "clips/yard.mp4"},  # relative to the config file
        {"name": "usb", "source": 0},
        {"name": "hall", "source": "/dev/video9"},  # devices may appear later: not checked
        {"name": "gate", "source": "rtsp://10.0.0.5/stream.mp4"},
    ]
    config = load_config(write(tmp_path, document))
    assert config.mqtt.protocol == "5"
    assert config.mqtt.port == 1883  # given explicitly: kept even with TLS
    assert config.logging.level == "DEBUG"
    assert config.cameras[0].resolution == (640, 480)
    assert config.cameras[1].source == str(tmp_path / "clips" / "yard.mp4")
    assert [c.source for c in config.cameras[2:]] == [0, "/dev/video9", "rtsp://10.0.0.5/stream.mp4"]


def test_tls_without_a_port_means_8883(tmp_path):
    config = load_config(write(tmp_path, patched(**{"mqtt.port": DELETE, "mqtt.tls": {"insecure": False}})))
    assert config.mqtt.port == 8883


def test_empty_sections_mean_defaults(tmp_path):
    config = load_config(write(tmp_path, "device_id: x\nmqtt:\nmodel:\nlogging:\n"
                                         "cameras: [{name: a, source: sample}]\n"))
    assert config.mqtt.qos == 1 and config.model.beam_size == 1 and config.logging.level == "INFO"


def test_events_are_on_where_one_board_owns_the_camera(tmp_path):
    config = load_config(write(tmp_path, patched(**{
        "cameras.1": {"name": "bell", "source": "frigate:bell"},
        "cameras.2": {"name": "cam", "source": "mqtt:cams/cam"},
        "cameras.0.zones": {"front_door": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}})))
    assert [c.events.enabled for c in config.cameras] == [True, False, True]
    assert config.cameras[0].zones == {"front_door": ((0, 0.5), (1, 0.5), (1, 1), (0, 1))}
    assert config.cameras[0].events.absent_after_s == 5.0
    pooled = load_config(write(tmp_path, patched(**{
        "cameras.1": {"name": "cam", "source": "mqtt:cams/cam"}, "mqtt.protocol": 5,
        "workers": {"group": "g"}}), "pool.yaml"))
    assert [c.events.enabled for c in pooled.cameras] == [True, False]


def test_printed_configuration_loads_back_as_the_same(tmp_path):
    (tmp_path / "pw").write_text(SECRET + "\n")
    config = load_config(write(tmp_path, patched(**{
        "mqtt.password_file": "pw", "cameras.0.zones": {"door": [[0, 0.5], [1, 0.5], [0.5, 1]]},
        "cameras.0.events": {"fall_after_s": 20}})))
    again = load_config(write(tmp_path, to_dict(config, masked=False), "again.yaml"))
    assert again.source_path != config.source_path
    again.source_path = config.source_path
    assert again == config


# -- what does not load ----------------------------------------------------------------------------------
BAD = [
    # (changes to BASE or raw YAML text, what the one-line error must contain)
    ({"history.summary_at": 1260}, 'history.summary_at: expected a local time of day "HH:MM" '
                                   '(24-hour) or null, got 1260 (quote it: "21:00")'),
    ({"history.summary_at": "25:00"}, "history.summary_at: expected a local time of day"),
    ({"history.sync": "off"}, "history.sync: expected one of normal, full, got 'off'"),
    ({"history.keep_days": 0}, "history.keep_days: expected an integer 1..36500, got 0"),
    ({"mqqt": {}}, "mqqt: unknown key (known: device_id, mqtt, model, cameras, logging, workers, "
                   "frigate, history)"),
    ({"mqtt.discovery.prefx": "ha"}, "mqtt.discovery.prefx: unknown key (known: enabled, prefix)"),
    ({"mqtt.tls": {"verify": True}}, "mqtt.tls.verify: unknown key"),
    ({"cameras.0.fps": 5}, "cameras[0].fps: unknown key"),
    ({"cameras.0.interval_s": "fast"}, "cameras[0].interval_s: expected a number > 0, got 'fast'"),
    ({"cameras.0.interval_s": 0}, "cameras[0].interval_s: expected a number > 0, got 0"),
    ({"cameras.0.interval_s": float("nan")}, "cameras[0].interval_s: expected a number > 0"),
    ({"mqtt.port": 0}, "mqtt.port: expected an integer 1..65535, got 0"),
    ({"mqtt.port": 70000}, "mqtt.port: expected an integer 1..65535"),
    ({"mqtt.port": "1883"}, "mqtt.port: expected an integer 1..65535, got '1883'"),
    ({"mqtt.port": 1883.5}, "mqtt.port: expected an integer"),
    ({"mqtt.qos": 3}, "mqtt.qos: expected an integer 0..2, got 3"),
    ({"mqtt.qos": True}, "mqtt.qos: expected an integer 0..2, got true"),  # a bool is not an int
    ({"mqtt.retain": "yes"}, "mqtt.retain: expected true or false, got 'yes'"),
    ({"mqtt.retain": 1}, "mqtt.retain: expected true or false, got 1"),
    ({"mqtt.keepalive": 2}, "mqtt.keepalive: expected an integer 5..65535, got 2"),
    ({"mqtt.protocol": "4"}, "mqtt.protocol: expected one of 3.1.1, 5"),
    ({"mqtt.queue_limit": 0}, "mqtt.queue_limit: expected an integer >= 1"),
    ({"mqtt.host": ""}, "mqtt.host: expected a host name"),
    ({"mqtt.base_topic": "home/#"}, "mqtt.base_topic:"),
    ({"mqtt.base_topic": "/edge"}, "mqtt.base_topic:"),
    ({"mqtt.base_topic": ""}, "mqtt.base_topic: expected a non-empty MQTT topic"),
    # a topic starting with '$' is the broker's ($SYS) or a subscription syntax ($share)
    ({"mqtt.base_topic": "$SYS"}, "mqtt.base_topic: '$SYS': a topic starting with '$' is reserved"),
    ({"mqtt.base_topic": "$share/edge"}, "mqtt.base_topic: '$share/edge': a topic starting with '$'"),
    ({"mqtt.discovery.prefix": "$homeassistant"}, "mqtt.discovery.prefix: '$homeassistant': a topic"),
    ({"frigate.topic_prefix": "$frigate"}, "frigate.topic_prefix: '$frigate': a topic starting"),
    ({"mqtt.discovery.prefix": "home+assistant"}, "mqtt.discovery.prefix:"),
    ({"mqtt.discovery.enabled": "on"}, "mqtt.discovery.enabled: expected true or false"),
    ({"mqtt": 5}, "mqtt: expected a mapping, got 5"),
    ({"mqtt.tls": {"keyfile": "k.pem"}}, "mqtt.tls.keyfile: needs mqtt.tls.certfile"),
    ({"mqtt.username": DELETE, "mqtt.password": "pw"}, "mqtt.username: required when a password"),
    ({"model.runtime": "onnx"}, "model.runtime: expected one of auto, ai_edge_litert, tflite_runtime"),
    ({"model.delegate": "gpu"}, "model.delegate: expected one of none, edgetpu"),
    ({"model.fallback": "gpu"}, "model.fallback: expected one of none, cpu"),
    ({"model.threads": 0}, "model.threads: expected an integer >= 1"),
    ({"model.beam_size": 11}, "model.beam_size: expected an integer 1..10"),
    ({"model.max_length": 1}, "model.max_length: expected an integer 2..64"),
    ({"model.max_length": 65}, "model.max_length: expected an integer 2..64"),
    ({"device_id": "living/room"}, "device_id: expected a name"),
    ({"device_id": "House"}, "device_id: expected a name"),
    ({"device_id": "a" * 64}, "device_id: expected a name"),
    ({"device_id": DELETE}, "device_id: required"),
    ({"cameras.0.name": "cam+1"}, "cameras[0].name: expected a name"),
    ({"cameras.0.name": "front#door"}, "cameras[0].name: expected a name"),
    ({"cameras.0.name": DELETE}, "cameras[0].name: required"),
    ({"cameras.0.source": DELETE}, "cameras[0].source: required"),
    ({"cameras.0.source": -1}, "cameras[0].source: expected a device index >= 0"),
    ({"cameras.0.source": ""}, "cameras[0].source: expected a device index >= 0"),
    ({"cameras.0.source": True}, "cameras[0].source: expected a device index"),
    ({"cameras.0.source": "htp://typo/stream"},
     "cameras[0].source: 'htp://typo/stream': not a URL a camera can be opened from"),
    ({"cameras.0.resolution": [640]}, "cameras[0].resolution: expected [width, height]"),
    ({"cameras.0.resolution": [640, 0]}, "cameras[0].resolution: expected [width, height]"),
    ({"cameras.0.scene_change_threshold": 1.5}, "cameras[0].scene_change_threshold: expected a number 0..1"),
    ({"cameras.0.heartbeat_s": 0.5}, "cameras[0].heartbeat_s: expected a number >= interval_s (1)"),
    ({"cameras.0.stall_timeout_s": 0}, "cameras[0].stall_timeout_s: expected a number > 0"),
    ({"cameras.0.snapshot": "no"}, "cameras[0].snapshot: expected true or false"),
    ({"cameras.0.place": "front\ndoor"}, "cameras[0].place: expected a place: one line"),
    ({"cameras.0.place": "x" * 41}, "cameras[0].place: expected a place: one line of 1..40"),
    ({"cameras.0.place": 3}, "cameras[0].place: expected a place"),
    ({"cameras.0.min_confidence": 1.5}, "cameras[0].min_confidence: expected a number 0..1"),
    ({"cameras.0.max_frame_pixels": 100}, "cameras[0].max_frame_pixels: expected an integer 4096..67108864"),
    ({"cameras.0.max_frame_pixels": 8193 * 8192}, "cameras[0].max_frame_pixels: expected an integer"),
    ({"cameras": []}, "cameras: at least one camera is required"),
    ({"cameras": {"name": "porch"}}, "cameras: expected a list of cameras"),
    ({"cameras": DELETE}, "cameras: required"),
    ({"cameras.1": {"name": "porch", "source": 1}}, "cameras[1].name: duplicate camera name 'porch'"),
    ({"cameras.1": "porch"}, "cameras[1]: expected a mapping"),
    ({"logging.level": "LOUD"}, "logging.level: expected one of DEBUG, INFO, WARNING, ERROR"),
    # zones and events (service/zones.py, events.py)
    ({"cameras.0.zones": {"door": [[0, 0], [1, 0]]}},
     "cameras[0].zones.door: expected a list of 3..64 [x, y] points, got a list of 2"),
    ({"cameras.0.zones": {"door": [[0, 0], [1, 0], [1.5, 1]]}},
     "cameras[0].zones.door[2]: expected [x, y], two numbers 0..1 (fractions of the frame), got a list"),
    ({"cameras.0.zones": {"door": [[0, 0], [0.5, 0.5], [1, 1]]}},
     "cameras[0].zones.door: the polygon has no area"),
    ({"cameras.0.zones": {"Front Door": [[0, 0], [1, 0], [1, 1]]}},
     "cameras[0].zones.Front Door: a zone name must be a name of lower-case letters"),
    ({"cameras.0.zones": [[0, 0], [1, 0], [1, 1]]}, "cameras[0].zones: expected a mapping of zone names"),
    ({"cameras.0.events": {"fall_after_s": 0}}, "cameras[0].events.fall_after_s: expected a number 1..3600"),
    ({"cameras.0.events": {"absent_after_s": 0}}, "cameras[0].events.absent_after_s: expected a number"),
    ({"cameras.0.events": {"present_after_frames": 4}},
     "cameras[0].events.present_after_frames: expected at most present_window_frames (3), got 4"),
    ({"cameras.0.events": {"linger_s": 4}}, "cameras[0].events.linger_s: unknown key"),
    ({"cameras.0.source": "frigate:porch", "cameras.0.events": {"enabled": True}},
     "cameras[0].events.enabled: true is not possible here: Frigate tracks this camera's objects"),
    ({"cameras.0.source": "mqtt:cams/porch", "cameras.0.events": {"enabled": True},
      "mqtt.protocol": 5, "workers": {"group": "g"}},
     "cameras[0].events.enabled: true is not possible here: a pool (`workers`) shares"),
    # files that must exist
    ({"mqtt.password_file": "missing-pw"}, "mqtt.password_file:"),
    ({"mqtt.tls": {"ca_certs": "/nonexistent/ca.pem"}},
     "mqtt.tls.ca_certs: /nonexistent/ca.pem: no such file"),
    ({"mqtt.tls": {"certfile": "c.pem"}}, "mqtt.tls.certfile:"),
    ({"cameras.0.source": "./missing.mp4"}, "cameras[0].source:"),
    ({"cameras.0.source": "garden.mkv"}, "cameras[0].source:"),
    ({"model.bundle": "./no-such-bundle"}, "model.bundle:"),
    # the file itself
    ("", "empty configuration"),
    ("# only comments\n", "empty configuration"),
    ("- device_id: x\n", "expected a mapping of sections"),
    ("device_id: x\nmqtt:\n  port: 1\n  port: 2\n", "duplicate key 'port'"),
    ("device_id: x\nmqtt: {host: a\n", "invalid YAML"),
    ("device_id: [x\n", "config.yaml:2:1: invalid YAML"),
    ("device_id: x\nseen: 2024-13-45\n", "invalid YAML"),
]


@pytest.mark.parametrize("document,expected", BAD, ids=[str(i) for i in range(len(BAD))])
def test_errors_name_the_key(tmp_path, document, expected):
    if isinstance(document, dict):
        document = patched(**document)
    path = write(tmp_path, document)
    with pytest.raises(BadInput) as caught:
        load_config(path)
    message = str(caught.value)
    assert expected in message
    assert message.startswith(str(path))
    assert "\n" not in message


def test_a_place_has_one_limit_in_the_configuration_and_on_the_command_line(tmp_path, capsys):
    """`caption --place` is a camera's `place` tried out: what one refuses, so does the other."""
    from edge_captioner.cli import main

    longest = "x" * PLACE_MAX_CHARS
    assert load_config(write(tmp_path, patched(**{"cameras.0.place": longest}))).cameras[0].place == longest
    with pytest.raises(BadInput, match=f"expected a place: one line of 1..{PLACE_MAX_CHARS}"):
        load_config(write(tmp_path, patched(**{"cameras.0.place": longest + "x"})))

    missing = tmp_path / "no-such-bundle"  # the place is checked first; a good one gets this far
    assert main(["caption", "photo.jpg", "--bundle", str(missing), "--place", longest]) == 2
    assert "--place" not in capsys.readouterr().err
    for refused in (longest + "x", "front\ndoor", " "):
        assert main(["caption", "photo.jpg", "--bundle", str(missing), "--place", refused]) == 2
        err = capsys.readouterr().err
        assert f"--place: expected a place: one line of 1..{PLACE_MAX_CHARS} printable" in err
        assert err.count("\n") == 1, err


def test_committed_reference_is_current():
    """docs/configuration.md is written from the schema; a key added, renamed or given a new default
    or check without regenerating it fails here."""
    committed = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == reference.render(), f"stale: run {reference.COMMAND}"


def test_reference_shows_each_key_with_its_check_and_default():
    text = reference.render()
    assert "| `port` | an integer 1..65535 | `1883` |" in text
    assert "| `interval_s` | a number > 0 | `1.0` |" in text
    assert "| `max_length` | an integer 2..64 or null | `null` |" in text
    assert "| `name` | a name of lower-case letters" in text and "| required |" in text
    assert [line for line in text.splitlines() if line.startswith("## ")] == [
        "## Top level", "## `mqtt`", "## `mqtt.tls`", "## `mqtt.discovery`", "## `model`", "## `cameras[]`",
        "## `cameras[].events`", "## `logging`", "## `workers`", "## `frigate`", "## `history`"]
    assert "source_path" not in text  # a field of Config, not a key of the file


# -- secrets ---------------------------------------------------------------------------------------------
def test_environment_password_wins(tmp_path, monkeypatch):
    (tmp_path / "pw").write_text("from-file\n")
    path = write(tmp_path, patched(**{"mqtt.password_file": "pw", "mqtt.password": "from-yaml"}))
    assert load_config(path).mqtt.password == "from-file"
    monkeypatch.setenv(PASSWORD_ENV, "from-env")
    assert load_config(path).mqtt.password == "from-env"
    monkeypatch.setenv(PASSWORD_ENV, "")  # set but empty: as if unset
    assert load_config(path).mqtt.password == "from-file"


def test_password_file_is_read_without_its_newline(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "mqtt").write_text(SECRET + "\r\n")
    config = load_config(write(tmp_path, patched(**{"mqtt.password_file": "secrets/mqtt"})))
    assert config.mqtt.password == SECRET
    assert config.mqtt.password_file == str(tmp_path / "secrets" / "mqtt")


@pytest.mark.parametrize("content,expected", [(b"", "empty"), (b"\n", "empty"), (b"x" * 5000, "longer"),
                                              (b"\xff\xfe", "UTF-8")])
def test_unusable_password_file(tmp_path, content, expected):
    (tmp_path / "pw").write_bytes(content)
    with pytest.raises(BadInput, match=f"mqtt.password_file: .*{expected}"):
        load_config(write(tmp_path, patched(**{"mqtt.password_file": "pw"})))


def test_password_file_must_be_a_regular_file(tmp_path):
    with pytest.raises(BadInput, match="mqtt.password_file: /dev/zero: not a regular file"):
        load_config(write(tmp_path, patched(**{"mqtt.password_file": "/dev/zero"})))


# -- anything at all: loads or BadInput, never another exception ------------------------------------------
KEYS = sorted({"device_id", "mqtt", "model", "cameras", "logging", "name", "source", "port", "tls",
               "password", "password_file", "resolution", "interval_s", "heartbeat_s", "protocol",
               "bundle", "level", "discovery", "prefix", "enabled", "ca_certs", "max_length"})
scalars = (st.none() | st.booleans() | st.integers() | st.just(10**400) | st.floats()
           | st.text(max_size=12) | st.sampled_from(["sample", "default", "5", "3.1.1", "a/b", "/dev/video0",
                                                      "INFO", "x.mp4", "/", "."]))
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6) | st.integers(), children, max_size=5),
    max_leaves=25,
)
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)


def _loads_or_bad_input(path: Path) -> None:
    try:
        load_config(path)
    except BadInput as exc:
        assert "\n" not in str(exc)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# The autouse fixture is function-scoped but only pins the environment: the same for every example.
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FUZZ
@given(document=documents | st.builds(lambda d: {"device_id": "x", "cameras": [d]}, documents)
       | st.builds(lambda d: {"device_id": "x", "mqtt": d, "cameras": [{"name": "a", "source": 0}]},
                   documents))
def test_any_document_loads_or_is_bad_input(scratch, document):
    _loads_or_bad_input(write(scratch, yaml.safe_dump(document)))


@FUZZ
@given(content=any_text.map(str.encode) | st.binary(max_size=200))
def test_any_text_loads_or_is_bad_input(scratch, content):
    path = scratch / "text.yaml"
    path.write_bytes(content)
    _loads_or_bad_input(path)


def test_the_pixel_limit_is_a_key_of_every_camera(tmp_path):
    document = patched(**{"cameras.0.max_frame_pixels": 7680 * 4320})
    document["cameras"] += [{"name": "yard", "source": "rtsp://10.0.0.5/stream"},
                            {"name": "esp", "source": "mqtt:esp/jpeg"}]
    config = load_config(write(tmp_path, document))
    assert [c.max_frame_pixels for c in config.cameras] == [7680 * 4320, 4096 * 4096, 4096 * 4096]
