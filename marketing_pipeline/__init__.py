"""marketing-pipeline: keeps an Encharge audience in step with ConnectWise PSA, built on Dagster."""

__version__ = "0.1.0"
