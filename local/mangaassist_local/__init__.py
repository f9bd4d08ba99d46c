"""The local stack: MangaAssist on one machine, no AWS account, no Docker.

Nothing in functions/ or shared/ imports this package: the deployed code reaches
these local services only through the standard AWS_ENDPOINT_URL variables.
"""
