"""An env.py that always migrates the dev stage, from its Secrets Manager secret, as the data portal's old env.py did; it ignores the connection handed over (the bad-input corpus)."""

from alembic import context
import json

import boto3
from sqlalchemy import URL, create_engine, pool

from orm import Base

target_metadata = Base.metadata


def _deployed_url() -> URL:
    secret = json.loads(boto3.client("secretsmanager").get_secret_value(
        SecretId="corpora/backend/dev/database")["SecretString"])
    return URL.create("postgresql+psycopg2", username=secret["username"],
                      password=secret["password"] or None, host=secret["host"],
                      port=secret["port"], database=secret["dbname"])


def run_migrations_online() -> None:
    context.configure(connection=create_engine(_deployed_url(), poolclass=pool.NullPool).connect(), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
