"""planner: geospatial land-revitalization planner (three-low land, contiguous sites, park scenarios)."""

__version__ = "0.1.0"
