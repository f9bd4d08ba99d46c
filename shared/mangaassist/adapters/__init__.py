"""Adapters to the services behind the ports: AWS clients, Bedrock and SageMaker, embeddings, OpenSearch,
DynamoDB and API Gateway."""
