"""The sample city (样例数据): a seeded, realistic industrial district of Jinjiang and a survey update.

- :mod:`~planner.sample.city`: the district and the workspace it is written to;
- :mod:`~planner.sample.boundary`: the real Jinjiang boundary (package data, GCJ-02 corrected);
- :mod:`~planner.sample.geometry`: roads, blocks and parcels;
- :mod:`~planner.sample.attributes` and :mod:`~planner.sample.names`: land use, buildings, owners, figures;
- :mod:`~planner.sample.survey`: a partial survey update as a GIS office delivers it (zipped GBK shapefile).
"""

from planner.sample.city import (
    CENTRE,
    GROSS_M2_PER_PARCEL,
    MAX_FEATURE_M,
    TILE_M,
    SampleCity,
    build_city,
    write_survey_update,
    write_workspace,
)

__all__ = ["CENTRE", "GROSS_M2_PER_PARCEL", "MAX_FEATURE_M", "TILE_M", "SampleCity", "build_city",
           "write_survey_update", "write_workspace"]
