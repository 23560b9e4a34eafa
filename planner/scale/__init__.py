"""Province scale (省域规模): classification and site assembly partition by partition on a Dask cluster.

A city fits on one machine; a province of ten million parcels is run on
dask.distributed over a partitioned survey (:mod:`planner.io.geoparquet`),
with the same answers as the in-memory run:

- :mod:`~planner.scale.cluster`: a local cluster, or any scheduler address; progress;
- :mod:`~planner.scale.classify`: three-low flags with percentile thresholds and
  grades taken over all partitions (exact);
- :mod:`~planner.scale.sites`: sites from per-partition components stitched by a
  global union-find, then :func:`planner.sites.build_sites` on each group of
  whole sites.
"""
