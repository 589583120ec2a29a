"""The portal's process: `python -m deploy.portal --port 8400 --centre URL --scheduler URL` (`brain up`)."""

from __future__ import annotations

import argparse

import uvicorn

from deploy.portal.app import build_portal


def arguments() -> argparse.ArgumentParser:
    """The process's arguments (`brain up` and the Helm chart's Deployment pass them)."""
    parser = argparse.ArgumentParser(prog="python -m deploy.portal", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (loopback by default)")
    parser.add_argument("--port", type=int, default=8400)
    parser.add_argument(
        "--centre", required=True, help="URL of the capability centre, e.g. http://127.0.0.1:8000"
    )
    parser.add_argument(
        "--scheduler", required=True, help="URL of the scheduler API, e.g. http://127.0.0.1:8300"
    )
    parser.add_argument("--secure-cookies", action="store_true", help="mark cookies Secure (behind HTTPS)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = arguments().parse_args(argv)
    app = build_portal(args.centre, args.scheduler, secure_cookies=args.secure_cookies)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
