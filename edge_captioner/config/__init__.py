"""The daemon's configuration (config.yaml): typed dataclasses, validated once at start-up.

docs/contract.md fixes the sections: device_id, mqtt, model, cameras, logging, workers, frigate,
history. Unknown
keys and wrong types are errors (BadInput -> exit 2) naming the key, e.g. `cameras[1].interval_s:
expected a number > 0`.
Secrets (the MQTT password) may come from the file, from `password_file`, or from the environment
variable EDGE_CAPTIONER_MQTT_PASSWORD, and are never logged or printed (see `to_dict(masked=True)`).

One job per module, data flowing down the list:
  schema.py     the dataclasses the rest of the daemon reads; each key's type, default, check and
                description, declared once
  checks.py     the checks of single values, and how errors name a key and show a value
  parse.py      a YAML document -> Config (no file system, no environment)
  files.py      the files and secrets it names: checked, made absolute, the password read
  loader.py     which file, reading its YAML, `load_config`, `to_dict`
  strict_yaml.py  the strict YAML reader (also for the toolkit's training recipes)
  reference.py  docs/configuration.md, written from the schema
"""

from .files import PASSWORD_ENV
from .loader import CONFIG_ENV, demo_config, load_config, to_dict
from .schema import (
    CameraConfig,
    Config,
    DiscoveryConfig,
    FrigateConfig,
    HistoryConfig,
    LoggingConfig,
    ModelConfig,
    MQTTConfig,
    TLSConfig,
    WorkersConfig,
)

__all__ = [
    "CONFIG_ENV", "PASSWORD_ENV", "CameraConfig", "Config", "DiscoveryConfig",
    "FrigateConfig", "HistoryConfig", "LoggingConfig", "MQTTConfig", "ModelConfig",
    "TLSConfig", "WorkersConfig",
    "demo_config", "load_config", "to_dict",
]
