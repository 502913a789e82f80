"""One Dagster code location per tenant (DESIGN.md "Tenants"): with EMD_CONFIG a folder of `<tenant>.yaml`,
`workspace.yaml` lists this module once per tenant, with the tenant as the attribute and the location name:

    load_from:
      - python_module: {module_name: orchestration.tenant_locations, attribute: acme, location_name: acme,
                        working_directory: .}
      - python_module: {module_name: orchestration.tenant_locations, attribute: gold, location_name: gold,
                        working_directory: .}

(`emd workspace` writes that file for the configured tenants.) Dagster gives each location a process of its
own (its code server, and the runs it launches), and loading the attribute makes that process the tenant's
(`emd.tenants.activate`: its config, its DATABASE_URL and its prefixed credentials under their plain names),
so every resource of the location reads that tenant's settings when a run uses them, exactly as
`emd pipeline --tenant NAME` does. Nothing happens at import: only Dagster's loading the attribute does it.
A process serves one tenant's location: `dagster definitions validate` needs `--load-with-grpc` to check several.
"""

from __future__ import annotations

from dagster import Definitions

from emd import tenants


def tenant_definitions(tenant: str) -> Definitions:
    """The code location of `tenant` (SettingsError for a name the EMD_CONFIG folder lacks)."""
    from orchestration.definitions import build_definitions

    tenants.activate(tenant)
    # The tenant's config file bound by name, so the UI's resource page shows which file the location reads.
    return build_definitions(config_path=str(tenants.config_path(tenant)))


def workspace_yaml() -> str:
    """workspace.yaml for the configured tenants: one location per tenant; a single config file keeps the one
    location of before (orchestration.definitions)."""
    names = tenants.names()
    if not names:
        return ("load_from:\n  - python_module:\n      module_name: orchestration.definitions\n"
                "      working_directory: .\n")
    entries = "".join(f"  - python_module:\n      module_name: orchestration.tenant_locations\n"
                      f"      attribute: {name}\n      location_name: {name}\n      working_directory: .\n"
                      for name in names)
    return "load_from:\n" + entries


_loaded: dict[str, Definitions] = {}


def __getattr__(name: str) -> Definitions:
    # Dagster loads `attribute: <tenant>` with getattr, more than once in a code server: once activated, the
    # process's EMD_CONFIG is that tenant's file, so its Definitions are kept. Any other name is not a location.
    if name in _loaded:
        return _loaded[name]
    if name.startswith("_") or not tenants.TENANT_NAME_RE.match(name) or name not in tenants.names():
        raise AttributeError(f"module {__name__!r} has no attribute {name!r} (not a tenant of EMD_CONFIG)")
    _loaded[name] = tenant_definitions(name)
    return _loaded[name]
