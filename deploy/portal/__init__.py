"""The portal (能力中心门户 + 算力调度看板): one web UI over the platform's REST APIs.

A backend-for-frontend: the browser holds an opaque session cookie, the portal holds the viewer's API key
and asks the capability centre and the scheduler API with it; it keeps no data of its own. `build_portal`
is the ASGI app, `python -m deploy.portal` the process `brain up` starts (docs/portal.md).
"""

from deploy.portal.app import build_portal

__all__ = ["build_portal"]
