"""The plugin tools.

    python -m plugins new my-topic       # scaffold plugins/my_topic/ and its Space from the template
    python -m plugins spaces             # rewrite spaces/ from the registered plugins
    python -m plugins spaces --check     # exit 1 if a Space folder is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugins", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="scaffold a plugin folder from the template")
    new.add_argument("name", help="lower-case words joined by dashes, e.g. my-topic")
    spaces = commands.add_parser("spaces", help="write spaces/ from the registered plugins")
    spaces.add_argument("--check", action="store_true", help="only report stale files (exit 1 if any)")
    args = parser.parse_args(argv)

    from .spaces import stale_space_files, write_spaces

    if args.command == "new":
        from .registry import load_plugins
        from .scaffold import new_plugin

        try:
            written = new_plugin(args.name, ROOT)
        except (ValueError, FileExistsError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        load_plugins(reload=True)
        written += [ROOT / path for path in write_spaces(ROOT)]
        print("Wrote " + ", ".join(str(path.relative_to(ROOT)) for path in written))
        print(f"Next: python train.py {args.name} --synthetic 64 --max-steps 5, then fill in data.py")
        return 0
    if args.check:
        stale = stale_space_files(ROOT)
        for path in stale:
            print(f"stale: {path}")
        if stale:
            print("run `python -m plugins spaces` to rewrite them", file=sys.stderr)
        return 1 if stale else 0
    changed = write_spaces(ROOT)
    print("\n".join(f"wrote {path}" for path in changed) or "spaces/ is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
