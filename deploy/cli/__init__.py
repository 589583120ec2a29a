"""The `brain` command line: `deploy.cli.main` assembles it from one module per command group.

`platform` (up, down, doctor), `components`, `tenancy` (tenants, keys, usage), `jobs` (pools and jobs),
`sim`, `k8s` (`brain deploy …`), `demo`; what they share (console, ``--json``, errors) is `_common`.
Kept empty of imports so a command module loads only what its group needs.
"""
