"""The daemon's MQTT session (docs/contract.md "MQTT"): everything that talks to the broker.

    topics.py     the topic layout, built and parsed here and nowhere else
    client.py     making and connecting paho clients
    outbox.py     the delivery model: ordered, at least once, latest-value slots
    commands.py   `<base>/<camera>/set` payloads parsed into a Command
    discovery.py  Home Assistant discovery, as pure functions
    journal.py    the persistent outbox: captions on disk from queued to acknowledged
    session.py    Publisher: the session that ties them together
"""
