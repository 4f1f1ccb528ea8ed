"""The finance sentiment classifier: MiniLM encoder + a 3-way head (negative/neutral/positive).

``train.run_sentiment_recipe`` runs a ``kind: sentiment`` recipe end to end (data from the
store, grouped leak-free split, fine-tuning with checkpoints, evaluation against a frozen
baseline, registration); ``continual`` adds replay / EWC when a run continues an earlier
version; serving-time scoring lives in ``infinstruct.sentiment``.
"""
