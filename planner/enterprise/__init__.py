"""Enterprise tables: tax, output and energy per enterprise, joined to the parcels they use.

The figures that decide "low contribution" in practice (tax and output per
mu) are evaluated per enterprise by the tax and industry bureaus, keyed by
the unified social credit code, and reach land through the land-use right or
the lease: one parcel can hold several tenants, one enterprise can use
several parcels (DOMAIN.md, "Enterprise tables").

- :mod:`~planner.enterprise.credit`: credit codes and their check digit;
- :mod:`~planner.enterprise.table`: read and check a tax bureau's table;
- :mod:`~planner.enterprise.link`: which enterprise uses which parcel (a
  link table, a parcel-id column, or the codes/names on the parcels), and
  the join: several tenants on one parcel add up, an enterprise on several
  parcels is shared by land or floor area.

The table is stored as a versioned non-spatial layer of the workspace
(kind ``enterprise``, its links as kind ``enterprise_link``, one commit);
:func:`planner.workflow.operations.analysis_parcels` joins the current
version into the parcels every analysis reads, so per-mu indicators and the
A-D grade (with the energy weight when energy use is known) come from it.
"""

from planner.enterprise.credit import check_codes
from planner.enterprise.link import JoinResult, join_enterprises, links_for, read_links
from planner.enterprise.table import (
           EnterpriseMapping,
           LinkSpec,
           as_enterprise_mapping,
           read_enterprises,
)

__all__ = ["EnterpriseMapping", "JoinResult", "LinkSpec", "as_enterprise_mapping", "check_codes", "join_enterprises",
           "links_for", "read_enterprises", "read_links"]
