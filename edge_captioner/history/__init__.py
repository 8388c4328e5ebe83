"""The board's memory: every published caption and event in SQLite, searched from the console
(`edge-captioner history`) and over MQTT (`<base>/history/query`), and a daily summary
(docs/history.md).

One job per module, data flowing down the list:
  paths.py      where the store lives (the state directory, as the caption journal finds it)
  schema.py     the tables, the text index chosen from what this SQLite offers, opening and
                moving a damaged file aside
  store.py      `HistoryStore`: recording (idempotent, never raising into the caption loop),
                retention by age and size, event snapshots
  recording.py  `RecordingSink`: the worker's sink that records, then publishes
  query.py      a question (`Query`, checked once, from the CLI's arguments or an MQTT request)
                and its answer rows: pure SQL building over a connection
  answer.py     the one sentence that answers a question, in English or Chinese (pure)
  summary.py    the day's summary sentence from its rows and a clock (pure)
  service.py    the MQTT side: questions answered, the summary published, its Home Assistant
                sensor; its own MQTT connection, so the folder can be removed like frigate/
"""
