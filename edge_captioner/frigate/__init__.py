"""Frigate, an optional integration: its events as frames, and captions written back as descriptions.

    events.py        Frigate's MQTT events: pure parsing, no broker
    source.py        FrigateSource: each event's snapshot is a frame
    descriptions.py  captions POSTed to Frigate's HTTP API as event descriptions
Nothing outside this folder needs it except the source factory (sources/factory.py) and the daemon,
which start it only for `frigate:` cameras and `frigate.api_url`.
"""
