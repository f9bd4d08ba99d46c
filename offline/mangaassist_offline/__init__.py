"""What MangaAssist needs off Lambda: training the task classifier, the embedded vector index that stands in
for OpenSearch locally, the labelled and evaluation sets, sample orders and data builders.

Used by the CLI, the local stack, scripts and tests; never packed into the Lambda layer.
"""
