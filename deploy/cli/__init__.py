"""The `brain` command line: `deploy.cli.main` assembles it from one module per command group.

Kept empty so that command modules elsewhere (deploy/cli/jobs.py, deploy/cli/k8s.py) can import
`deploy.cli._common` without pulling in the whole CLI first.
"""
