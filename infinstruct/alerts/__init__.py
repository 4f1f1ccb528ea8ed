"""Scheduled sentiment alerts: feeds → sentiment → topics → spikes → delivered alerts.

One module per step: ``feeds`` (registry + polling through an injected reader),
``scoring`` (the active sentiment model, batched), ``topics`` (watchlists and ticker
extraction), ``detector`` (the statistics, pure), ``alerting`` (alerts with cooldown and
de-duplication, the outbox rows), ``delivery`` (in-app, webhook, e-mail), ``pipeline``
(one run, recorded as a job run), ``lease`` and ``scheduler`` (APScheduler, one worker).
"""
