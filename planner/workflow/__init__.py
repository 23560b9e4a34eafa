"""The workflow layer: the one pipeline behind the CLI and the app.

- :mod:`~planner.workflow.documents`: typed saved documents (policy, site
  parameters, site edits, scenario, comparison) with a schema version and
  upgrades of older shapes;
- :mod:`~planner.workflow.provenance`: what each stored result came from,
  whether its pieces belong together, whether it is stale;
- :mod:`~planner.workflow.operations`: classify a workspace, build its sites
  (stable ids, edits replayed), run and compare scenarios;
- :mod:`~planner.workflow.catalogue`: open, save (no silent overwrite), rename,
  duplicate and delete saved documents;
- :mod:`~planner.workflow.versions`: make an earlier survey or enterprise table
  version current again, and what that leaves out of date;
- :mod:`~planner.workflow.permissions`: who may do what (one check per write).

``planner/cli/`` and ``views/`` call these and hold no pipeline step of their own.
"""

from typing import TYPE_CHECKING

from planner._lazy import lazy_exports

#: Public names and the submodule of each, imported on first use (``planner --help`` imports none of them).
_NAMES = {
    "enterprises": "enterprises",
    "SaveConflictError": "catalogue",
    "check_document_name": "catalogue",
    "delete_document": "catalogue",
    "document_names": "catalogue",
    "document_versions": "catalogue",
    "duplicate_scenario": "catalogue",
    "latest_version": "catalogue",
    "layer_catalogue": "catalogue",
    "load_document": "catalogue",
    "parse_ref": "catalogue",
    "rename_scenario": "catalogue",
    "save_document": "catalogue",
    "site_edit_names": "catalogue",
    "ComparisonDoc": "documents",
    "PolicyDoc": "documents",
    "ScenarioDoc": "documents",
    "SiteEditsDoc": "documents",
    "SiteParamsDoc": "documents",
    "parse_document": "documents",
    "BuiltSites": "operations",
    "Classified": "operations",
    "ScenarioRun": "operations",
    "StoredSites": "operations",
    "assemble_sites": "operations",
    "build_workspace_sites": "operations",
    "classify_workspace": "operations",
    "compare_runs": "operations",
    "create_workspace": "operations",
    "current_survey_version": "operations",
    "publish_survey": "operations",
    "read_sites": "operations",
    "run_scenario": "operations",
    "scenario_sensitivity": "operations",
    "ScenarioSensitivity": "operations",
    "runs_sensitivity": "operations",
    "run_stored_scenario": "operations",
    "scenario_doc": "operations",
    "store_sites": "operations",
    "Provenance": "provenance",
    "ResultMismatchError": "provenance",
    "check_together": "provenance",
    "stale_reasons": "provenance",
    "Restorable": "versions",
    "VersionSwitch": "versions",
    "restorable_results": "versions",
    "restore_results": "versions",
    "switch_version": "versions",
    "versions": "versions",
}
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)

if TYPE_CHECKING:  # what static tools see; the same names as _NAMES
    from planner.workflow import enterprises, versions
    from planner.workflow.catalogue import (
        SaveConflictError,
        check_document_name,
        delete_document,
        document_names,
        document_versions,
        duplicate_scenario,
        latest_version,
        layer_catalogue,
        load_document,
        parse_ref,
        rename_scenario,
        save_document,
        site_edit_names,
    )
    from planner.workflow.documents import (
        ComparisonDoc,
        PolicyDoc,
        ScenarioDoc,
        SiteEditsDoc,
        SiteParamsDoc,
        parse_document,
    )
    from planner.workflow.operations import (
        BuiltSites,
        Classified,
        ScenarioRun,
        ScenarioSensitivity,
        StoredSites,
        assemble_sites,
        build_workspace_sites,
        classify_workspace,
        compare_runs,
        create_workspace,
        current_survey_version,
        publish_survey,
        read_sites,
        run_scenario,
        run_stored_scenario,
        runs_sensitivity,
        scenario_doc,
        scenario_sensitivity,
        store_sites,
    )
    from planner.workflow.provenance import (
        Provenance,
        ResultMismatchError,
        check_together,
        stale_reasons,
    )
    from planner.workflow.versions import (
        Restorable,
        VersionSwitch,
        restorable_results,
        restore_results,
        switch_version,
    )

__all__ = ["BuiltSites", "Classified", "ComparisonDoc", "PolicyDoc", "Provenance", "ResultMismatchError",
           "Restorable", "SaveConflictError", "ScenarioDoc", "ScenarioRun", "ScenarioSensitivity", "SiteEditsDoc", "SiteParamsDoc", "StoredSites",
           "VersionSwitch",
           "assemble_sites", "build_workspace_sites", "check_document_name", "check_together", "classify_workspace", "compare_runs",
           "create_workspace", "current_survey_version", "delete_document", "document_names",
           "document_versions", "duplicate_scenario", "enterprises", "latest_version", "layer_catalogue",
           "load_document", "parse_document", "parse_ref", "publish_survey", "read_sites", "rename_scenario", "restorable_results", "restore_results", "run_scenario", "run_stored_scenario",
           "runs_sensitivity", "scenario_sensitivity",
           "save_document", "scenario_doc", "site_edit_names", "stale_reasons", "store_sites", "switch_version",
           "versions"]
