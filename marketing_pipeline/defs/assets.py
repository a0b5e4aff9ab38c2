"""The sync as software-defined assets, one partition per sync:

cw_companies -> cw_contacts --\
                               >-- sync_plan -> encharge_audience
encharge_people --------------/

Each asset is thin glue: read through a resource, compute with the pure core in `sync/`, describe the
result in metadata a marketer can read in the Dagster UI.
"""

from marketing_pipeline.defs import apply_asset, plan_asset, read_assets

# Modules, not names, are imported: the defs folder loads every module's assets, each object once.
SYNC_ASSETS = [
    read_assets.cw_companies,
    read_assets.cw_contacts,
    read_assets.encharge_people,
    plan_asset.sync_plan,
    apply_asset.encharge_audience,
]
