"""The PostGIS peer of ``build_sites`` with barriers and constraints: the same job, written as a PostGIS user would.

Tables are loaded with COPY beforehand (not timed); no table is autovacuumed and a
CHECKPOINT follows the job (not timed), so no background work of the server
runs into the next timed run. The timed job, in one
backend, drops and rebuilds everything it makes:

1. GiST indexes on the flagged parcels, barriers and constraints;
2. protected land: ``ST_Union`` of the constraints, ``ST_Dump``,
   ``ST_Subdivide`` (256 vertices), indexed;
3. each flagged parcel's area inside protected land (``ST_Intersection`` with
   the pieces it meets); parcels more than ``exclude_share`` inside are dropped;
4. clusters: ``ST_ClusterDBSCAN(geom, eps := gap, minpoints := 1)``;
5. barriers: ``ST_Subdivide`` (64 vertices), indexed; parcels within
   ``max(gap, contact_tol)`` of a barrier; neighbour pairs of those parcels
   that a barrier separates, by the rule of
   :func:`planner.sites.overlay.barrier_separated` (``ST_ShortestLine``
   interior meets a barrier; or the shared boundary lies more than
   ``contact_share`` within ``contact_tol`` of a barrier);
6. clusters holding a separated pair are split into the connected components
   of their unseparated neighbour pairs (label propagation in a PL/pgSQL loop);
7. sites: ``ST_Union`` per site, ``ST_Difference`` with the union of the
   protected pieces it meets, ``ST_Area``, ``ST_Perimeter``, summed overlap.

It does not close gaps, absorb enclaves or rank, which ``build_sites`` also does.
"""

from __future__ import annotations

import io
import os
import time

import numpy as np
import shapely

DEFAULT_DSN = "postgresql://postgres@localhost/planner_test"
TABLES = "bs_parcels, bs_barriers, bs_constraints"
MADE = "bs_prot, bs_kept, bs_cl, bs_bar, bs_near, bs_sep, bs_lab, bs_edges, bs_sites"


def connect():
    """A psycopg autocommit connection to ``$PLANNER_PG_DSN``, or (None, reason)."""
    try:
        import psycopg
    except ImportError:
        return None, "psycopg not installed"
    dsn = os.environ.get("PLANNER_PG_DSN", DEFAULT_DSN)
    try:
        con = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
        con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        return None, f"PostGIS unavailable ({str(exc).strip().splitlines()[0]})"
    return con, ""


def _copy(con, table: str, geoms: np.ndarray, srid: int) -> None:
    wkb = shapely.to_wkb(shapely.set_srid(np.asarray(geoms, dtype=object), srid), hex=True, include_srid=True)
    buf = io.StringIO("".join(f"{k}\t{w}\n" for k, w in enumerate(wkb)))
    with con.cursor() as cur, cur.copy(f"COPY {table} (k, geom) FROM STDIN") as cp:
        while chunk := buf.read(1 << 20):
            cp.write(chunk)


def load(con, flagged, barriers, constraints, srid: int = 4549) -> None:
    """Load the flagged parcels, barriers and constraints (geometries) into fresh tables (not timed)."""
    con.execute(f"DROP TABLE IF EXISTS {TABLES}, {MADE}")
    for table, geoms in (("bs_parcels", flagged), ("bs_barriers", barriers), ("bs_constraints", constraints)):
        con.execute(f"CREATE UNLOGGED TABLE {table} (k integer, geom geometry(Geometry, {srid})) "
                    "WITH (autovacuum_enabled = false)")
        _copy(con, table, geoms, srid)
        con.execute(f"VACUUM ANALYZE {table}")


def drop(con) -> None:
    con.execute(f"DROP TABLE IF EXISTS {TABLES}, {MADE}")


def job_sql(gap: float, *, exclude_share: float = 0.5, contact_tol: float = 0.5,
            contact_share: float = 0.5) -> list[str]:
    """The statements of the job, in order (see the module docstring)."""
    g, reach = float(gap), float(max(gap, contact_tol))
    t, s, e = float(contact_tol), float(contact_share), float(exclude_share)
    return [
        f"DROP TABLE IF EXISTS {MADE}",
        "DROP INDEX IF EXISTS bs_parcels_gix, bs_barriers_gix, bs_constraints_gix",
        "CREATE INDEX bs_parcels_gix ON bs_parcels USING gist (geom)",
        "CREATE INDEX bs_barriers_gix ON bs_barriers USING gist (geom)",
        "CREATE INDEX bs_constraints_gix ON bs_constraints USING gist (geom)",
        # 2. protected land, dissolved and subdivided
        "CREATE UNLOGGED TABLE bs_prot WITH (autovacuum_enabled = false) AS SELECT ST_Subdivide(d.geom, 256) AS geom "
        "FROM (SELECT (ST_Dump(ST_Union(geom))).geom FROM bs_constraints) d "
        "WHERE ST_GeometryType(d.geom) = 'ST_Polygon'",
        "CREATE INDEX ON bs_prot USING gist (geom)",
        # 3. overlap, exclusion
        "CREATE UNLOGGED TABLE bs_kept WITH (autovacuum_enabled = false) AS SELECT p.k, p.geom, coalesce(o.a, 0) AS overlap FROM bs_parcels p "
        "LEFT JOIN (SELECT p.k, sum(ST_Area(ST_Intersection(p.geom, c.geom))) AS a FROM bs_parcels p "
        "JOIN bs_prot c ON ST_Intersects(p.geom, c.geom) GROUP BY p.k) o USING (k) "
        f"WHERE coalesce(o.a, 0) <= {e} * ST_Area(p.geom)",
        "CREATE INDEX ON bs_kept USING gist (geom)",
        "ANALYZE bs_kept",
        # 4. clusters
        f"CREATE UNLOGGED TABLE bs_cl WITH (autovacuum_enabled = false) AS SELECT k, ST_ClusterDBSCAN(geom, eps := {g}, minpoints := 1) OVER () AS cid "
        "FROM bs_kept",
        "CREATE INDEX ON bs_cl (k)",
        # 5. barriers, parcels within reach, separated pairs
        "CREATE UNLOGGED TABLE bs_bar WITH (autovacuum_enabled = false) AS SELECT k AS id, ST_Subdivide(geom, 64) AS geom FROM bs_barriers",
        "CREATE INDEX ON bs_bar USING gist (geom)",
        "CREATE UNLOGGED TABLE bs_near WITH (autovacuum_enabled = false) AS SELECT DISTINCT p.k, p.geom FROM bs_kept p "
        f"JOIN bs_bar b ON ST_DWithin(p.geom, b.geom, {reach})",
        "CREATE INDEX ON bs_near USING gist (geom)",
        "CREATE UNLOGGED TABLE bs_sep WITH (autovacuum_enabled = false) AS SELECT a.k AS a, b.k AS b FROM bs_near a "
        f"JOIN bs_near b ON a.k < b.k AND ST_DWithin(a.geom, b.geom, {g}) "
        "CROSS JOIN LATERAL (SELECT ST_Distance(a.geom, b.geom) AS d, ST_ShortestLine(a.geom, b.geom) AS seg, "
        "ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom)) AS contact) x "
        "WHERE CASE WHEN x.d > 0 THEN EXISTS (SELECT 1 FROM bs_bar r WHERE ST_Intersects(r.geom, x.seg) "
        "AND (ST_Relate(x.seg, r.geom, 'T********') OR ST_Relate(x.seg, r.geom, '*T*******'))) "
        f"WHEN ST_Length(x.contact) = 0 THEN EXISTS (SELECT 1 FROM bs_bar r WHERE ST_DWithin(r.geom, x.contact, {t})) "
        f"ELSE (SELECT coalesce(sum(ST_Length(ST_Intersection(x.contact, ST_Buffer(w.geom, {t})))), 0) "
        f"FROM bs_barriers w WHERE w.k IN (SELECT r.id FROM bs_bar r WHERE ST_DWithin(r.geom, x.contact, {t}))) "
        f"> {s} * ST_Length(x.contact) END",
        # 6. split the clusters holding a separated pair
        "CREATE UNLOGGED TABLE bs_lab WITH (autovacuum_enabled = false) AS SELECT c.k, c.cid, c.k AS lab FROM bs_cl c "
        "WHERE c.cid IN (SELECT c2.cid FROM bs_sep s JOIN bs_cl c2 ON c2.k = s.a)",
        "CREATE INDEX ON bs_lab (k)",
        "CREATE UNLOGGED TABLE bs_edges WITH (autovacuum_enabled = false) AS SELECT a.k AS a, b.k AS b FROM bs_kept a "
        f"JOIN bs_kept b ON a.k < b.k AND ST_DWithin(a.geom, b.geom, {g}) "
        "JOIN bs_lab la ON la.k = a.k JOIN bs_lab lb ON lb.k = b.k "
        "WHERE NOT EXISTS (SELECT 1 FROM bs_sep s WHERE s.a = a.k AND s.b = b.k)",
        "DO $$ DECLARE n integer; BEGIN LOOP "
        "UPDATE bs_lab l SET lab = m.lab FROM (SELECT x, min(lab) AS lab FROM ("
        "SELECT e.a AS x, l2.lab FROM bs_edges e JOIN bs_lab l2 ON l2.k = e.b UNION ALL "
        "SELECT e.b, l2.lab FROM bs_edges e JOIN bs_lab l2 ON l2.k = e.a) u GROUP BY x) m "
        "WHERE l.k = m.x AND m.lab < l.lab; "
        "GET DIAGNOSTICS n = ROW_COUNT; EXIT WHEN n = 0; END LOOP; END $$",
        # 7. sites: union, protected land cut out, area, perimeter
        "CREATE UNLOGGED TABLE bs_sites WITH (autovacuum_enabled = false) AS WITH m AS (SELECT c.cid, coalesce(l.lab, -1) AS lab, p.geom, p.overlap "
        "FROM bs_cl c JOIN bs_kept p USING (k) LEFT JOIN bs_lab l USING (k)), "
        "u AS (SELECT cid, lab, ST_Union(geom) AS geom, sum(overlap) AS overlap FROM m GROUP BY cid, lab) "
        "SELECT u.cid, u.lab, u.overlap, x.geom, ST_Area(x.geom) AS area, ST_Perimeter(x.geom) AS perimeter "
        "FROM u CROSS JOIN LATERAL (SELECT coalesce(ST_Difference(u.geom, (SELECT ST_Union(c.geom) FROM bs_prot c "
        "WHERE ST_Intersects(c.geom, u.geom))), u.geom) AS geom) x",
    ]


def run_job(con, gap: float, **rules) -> tuple[float, dict]:
    """Run the timed job; returns (seconds, counts: sites, kept parcels, separated pairs, overlap m²)."""
    t = time.perf_counter()
    for sql in job_sql(gap, **rules):
        con.execute(sql)
    dt = time.perf_counter() - t
    con.execute("CHECKPOINT")  # leave no background writing to the next timed run (ours)
    sites, overlap = con.execute("SELECT count(*), coalesce(sum(overlap), 0) FROM bs_sites").fetchone()
    kept = con.execute("SELECT count(*) FROM bs_kept").fetchone()[0]
    sep = con.execute("SELECT count(*) FROM bs_sep").fetchone()[0]
    return dt, {"sites": int(sites), "kept": int(kept), "separated": int(sep), "overlap_m2": float(overlap)}
