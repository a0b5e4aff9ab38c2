"""`marketing-pipeline`: everything the Dagster UI cannot do, for people (tables) and scripts (`--json`).

The original specification's REST endpoints map here: GET /syncs -> `syncs list`, GET /syncs/:id ->
`syncs show`, PATCH /syncs/:id -> `syncs update`, POST /syncs/:id/trigger -> `syncs trigger`,
GET /syncs/:id/runs -> `runs list`, GET /syncs/:id/runs/:runId -> `runs show`.
"""

from marketing_pipeline.cli.app import main

__all__ = ["main"]
