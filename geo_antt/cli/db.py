"""Command-line access to the store: accounts, tokens, import, audit, backup, schema.

Every command takes ``--db URL`` (default: ``$GEO_ANTT_DB``, else ``<data>/geo-antt.sqlite``)::

    geo-antt db upgrade
    geo-antt db seed --data data/            # units and models listed in data/dataset.toml
    geo-antt db load-units boundaries/communes.geojson boundaries/hamlets.geojson
    geo-antt users add an --role officer --unit 28756 --password-stdin < pw.txt
    geo-antt users list
    geo-antt users logout an                 # end its web sessions (passwd, set, disable do too)
    geo-antt token create an --label "nightly sync"
    geo-antt import models.xlsx --unit 28756 --user an            # preview only
    geo-antt import models.xlsx --unit 28756 --user an --commit   # apply, all or nothing
    geo-antt audit --model cam-17 --limit 20
    geo-antt audit --by an --unit 28756 --since 2026-11-01 --until 2026-11-30   # Vietnam dates
    geo-antt backup registry.gpkg
    geo-antt restore registry.gpkg
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import GeoAnttError, ValidationError
from .._time import parse_local_time
from ..schema import ROLES
from ._progress import add_quiet_argument, progress_bar

if TYPE_CHECKING:  # the store pulls in SQLAlchemy: imported only by the commands that use it
    from ..store import Store, User


def read_units_file(path):  # noqa: D103 - lazy forwarders to geo_antt.store._files
    from ..store._files import read_units_file as f

    return f(path)


def read_models_file(path, *, crs=None):  # noqa: D103
    from ..store._files import read_models_file as f

    return f(path, crs=crs)


__all__ = ["register"]


def _db_parent() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--db",
        metavar="URL",
        help="sqlite:///FILE, a file path, or postgresql://user@host:port/db "
        "(default: $GEO_ANTT_DB, else DATA/geo-antt.sqlite)",
    )
    p.add_argument("--data", metavar="DIR", help="data folder holding the default SQLite file (default: data/)")
    return p


def _open(args: argparse.Namespace) -> Store:
    from ..store import Store

    return Store.open(args.db, data_dir=args.data)


def _actor(store: Store, name: str | None) -> User | None:
    return None if name is None else store.get_user(name)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        pw = sys.stdin.readline().rstrip("\r\n")
        if not pw:
            raise GeoAnttError("no password on standard input")
        return pw
    if not sys.stdin.isatty():
        raise GeoAnttError("give the password with --password-stdin (or run in a terminal to be asked)")
    pw = getpass.getpass("Mật khẩu / password: ")
    if pw != getpass.getpass("Nhập lại / again: "):
        raise GeoAnttError("the two passwords differ")
    return pw


# ----------------------------------------------------------------------------------------------
# commands


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from ..store import Store

    with Store.open(args.db, data_dir=args.data, upgrade=False) as store:
        before = store.revision()
        after = store.upgrade()
        print(
            f"{store.url}: schema {before or 'empty'} -> {after}"
            if before != after
            else f"{store.url}: schema at {after} (newest)"
        )
    return 0


def _cmd_db_load_units(args: argparse.Namespace) -> int:
    with _open(args) as store:
        frames = [read_units_file(f) for f in args.files]
        total = {"inserted": 0, "updated": 0}
        for f, gdf in zip(args.files, frames):
            counts = store.put_units(gdf, user=None)
            total = {k: total[k] + counts[k] for k in total}
            print(f"{f}: {counts['inserted']} inserted, {counts['updated']} updated")
    return 0


def _cmd_db_seed(args: argparse.Namespace) -> int:
    from ..config import DEFAULT_DATA_DIR
    from ..store import seed_from_dataset

    data = Path(args.data or DEFAULT_DATA_DIR)
    if not (data / "dataset.toml").is_file():
        raise GeoAnttError(f"{data / 'dataset.toml'}: no dataset.toml (give --data DIR of a dataset folder)")
    with _open(args) as store, progress_bar(args, "seed") as bar:
        seed_from_dataset(store, data, max_lines=args.max_lines, progress=bar)
    return 0


def _cmd_db_load_context(args: argparse.Namespace) -> int:
    from ..io.features import read_buildings, read_roads

    read = read_roads if args.layer == "roads" else read_buildings
    frame = read(args.file)
    with _open(args) as store:
        done = store.load_context(args.layer, frame, unit_codes=args.unit, level=args.level, user=None)
    for code, counts in done.items():
        print(f"{args.file}: {args.layer} of unit {code}: {counts['inserted']} loaded, {counts['removed']} replaced")
    print(f"{args.file}: {sum(c['inserted'] for c in done.values())} {args.layer} in {len(done)} unit(s)")
    return 0


def _cmd_users_add(args: argparse.Namespace) -> int:
    pw = None if args.no_password else _read_password(args)
    with _open(args) as store:
        user = store.add_user(args.name, role=args.role, password=pw, unit_codes=args.unit or (), user=None)
    units = ", ".join(user.unit_codes) or ("all units" if user.is_admin else "no unit")
    print(f"account {user.name} ({user.role}; {units}) created")
    return 0


def _cmd_users_list(args: argparse.Namespace) -> int:
    with _open(args) as store:
        users = store.list_users()
    if args.json:
        print(json.dumps([u.to_dict() for u in users], ensure_ascii=False, indent=1))
        return 0
    print(f"{'name':<24} {'role':<8} {'active':<6} units")
    for u in users:
        print(f"{u.name:<24} {u.role:<8} {'yes' if u.active else 'no':<6} {' '.join(u.unit_codes)}")
    return 0


def _cmd_users_passwd(args: argparse.Namespace) -> int:
    pw = _read_password(args)
    with _open(args) as store:
        store.set_password(args.name, pw, user=None)
    print(f"password of {args.name} changed")
    return 0


def _cmd_users_active(args: argparse.Namespace) -> int:
    with _open(args) as store:
        store.set_user_active(args.name, args.active, user=None)
    print(f"account {args.name} {'enabled' if args.active else 'disabled'}")
    return 0


def _cmd_users_logout(args: argparse.Namespace) -> int:
    with _open(args) as store:
        n = store.end_sessions(args.name, user=None)
    print(f"{n} web session(s) of {args.name} ended")
    return 0


def _cmd_users_set(args: argparse.Namespace) -> int:
    if args.role is None and args.unit is None and not args.no_units:
        raise GeoAnttError("give --role and/or --unit CODE (repeatable) or --no-units")
    units = [] if args.no_units else args.unit
    with _open(args) as store:
        u = store.set_user_access(args.name, role=args.role, unit_codes=units, user=None)
    print(f"account {u.name}: {u.role}; units {', '.join(u.unit_codes) or '-'}")
    return 0


def _cmd_token_create(args: argparse.Namespace) -> int:
    with _open(args) as store:
        token = store.create_token(args.name, label=args.label or "", user=None)
    print(token)
    print(f"(API token of {args.name}; shown once: send it as 'Authorization: Bearer <token>')", file=sys.stderr)
    return 0


def _cmd_token_revoke(args: argparse.Namespace) -> int:
    with _open(args) as store:
        n = store.revoke_tokens(args.name, user=None)
    print(f"{n} token(s) of {args.name} revoked")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    # the bar is cleared before the preview is printed, and drawn again while it is written
    with progress_bar(args, "import") as bar:
        if bar is not None:
            bar(f"reading {Path(args.file).name}", 0, 2)
        gdf, io_problems = read_models_file(args.file, crs=args.input_crs)
    errors = [p for p in io_problems if p.severity == "error"]
    with _open(args) as store:
        actor = _actor(store, args.user)
        with progress_bar(args, "import") as bar:
            if bar is not None:
                bar(f"checking {len(gdf)} rows", 1, 2)
            # the reader's rejections (rows that could not be read) become rejections of the preview
            preview = store.preview_import(
                gdf, user=actor, unit_code=args.unit, source=Path(args.file).name, problems=io_problems
            )
        if args.json:
            d = preview.to_dict()
            d["file_problems"] = [p.to_dict() for p in io_problems]
            print(json.dumps(d, ensure_ascii=False, indent=1, default=str))
        else:
            print(preview.summary(max_lines=args.max_lines))
        if not args.commit:
            if not args.json:
                print("preview only: nothing changed (add --commit to apply)")
            return 1 if (preview.has_rejections or errors) and not args.skip_rejected else 0
        if errors and not args.skip_rejected:
            raise ValidationError(
                errors,
                message=f"{len(errors)} row(s) of {args.file} could not be read; nothing imported (fix the file, or --skip-rejected)",
            )
        with progress_bar(args, "import") as bar:
            if bar is not None:
                bar(f"writing {len(gdf)} rows", 0, 1)
            counts = store.commit_import(preview, user=actor, skip_rejected=args.skip_rejected)
    print(
        f"imported: {counts['new']} new, {counts['update']} updated, {counts['unchanged']} unchanged"
        + (f", {counts['rejected']} rejected rows skipped" if args.skip_rejected else "")
    )
    return 0


def _fmt_change(old: Any, new: Any) -> str:
    if isinstance(new, dict) and isinstance(old, dict):
        keys = list(dict.fromkeys([*old, *new]))
        return "; ".join(f"{k}: {_short(old.get(k))} -> {_short(new.get(k))}" for k in keys)
    if isinstance(new, dict):
        return f"{len(new)} fields"
    return ""


def _short(v: Any) -> str:
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= 40 else s[:37] + "..."


def _cmd_audit(args: argparse.Namespace) -> int:
    with _open(args) as store:
        df = store.audit_frame(
            model_id=args.model,
            limit=args.limit,
            user=_actor(store, args.user),
            user_name=args.by,
            unit_code=args.unit,
            since=parse_local_time(args.since, what="--since") if args.since else None,
            until=parse_local_time(args.until, end=True, what="--until") if args.until else None,
        )
    if args.json:
        recs = df.assign(at=df["at"].map(lambda t: t.isoformat())).to_dict("records")
        print(json.dumps(recs, ensure_ascii=False, indent=1, default=str))
        return 0
    for r in df.itertuples(index=False):
        what = r.model_id or ""
        change = _fmt_change(r.old, r.new) if r.action in ("update", "retire", "import") else ""
        if not change and r.detail:
            change = json.dumps(r.detail, ensure_ascii=False)
        print(f"{r.at:%Y-%m-%d %H:%M:%S}Z  {r.user_name:<16} {r.action:<13} {what:<20} {change}")
    return 0


def _cmd_backup(args: argparse.Namespace) -> int:
    with _open(args) as store:
        path = store.export_backup(args.file)
    print(f"backup written to {path}")
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    with _open(args) as store:
        counts = store.restore_backup(args.file)
    print(
        f"restored {counts['units']} units, {counts['models']} models, {counts['audit']} audit entries from {args.file}"
    )
    return 0


def register(subparsers: Any) -> None:
    """Add the store commands (db, users, token, import, audit, backup, restore)."""
    db = _db_parent()

    p = subparsers.add_parser("db", help="database schema and boundaries")
    sub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    q = sub.add_parser("upgrade", parents=[db], help="create the store or migrate it to the newest schema")
    q.set_defaults(func=_cmd_db_upgrade)
    q = sub.add_parser(
        "seed", parents=[db], help="load the units and models of the dataset folder (--data) into the store"
    )
    q.add_argument("--max-lines", type=int, default=20, help="lines of details about rejected rows")
    add_quiet_argument(q)
    q.set_defaults(func=_cmd_db_seed)
    q = sub.add_parser("load-units", parents=[db], help="insert or replace units from boundary files")
    q.add_argument("files", nargs="+", metavar="FILE")
    q.set_defaults(func=_cmd_db_load_units)
    for layer, what in (
        ("roads", "roads (lines: highway, name), clipped to each unit"),
        ("buildings", "buildings (polygons: building, levels, height_m), by the unit holding each"),
    ):
        q = sub.add_parser(
            f"load-{layer}",
            parents=[db],
            help=f"replace the {what} of the units it covers (e.g. {layer}.geojson of `geo-antt osm convert`)",
        )
        q.add_argument("file", metavar="FILE")
        q.add_argument(
            "--unit",
            action="append",
            metavar="CODE",
            help="load for this unit only (repeat for several; default: every --level unit the file meets)",
        )
        q.add_argument(
            "--level",
            default="commune",
            choices=("province", "district", "commune", "hamlet"),
            help="the units to load per when --unit is not given (default: commune)",
        )
        q.set_defaults(func=_cmd_db_load_context, layer=layer)

    p = subparsers.add_parser("users", help="accounts and roles")
    sub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    q = sub.add_parser("add", parents=[db], help="create an account")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=ROLES)
    q.add_argument("--unit", action="append", metavar="CODE", help="unit in the account's scope (repeat for several)")
    g = q.add_mutually_exclusive_group()
    g.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    g.add_argument("--no-password", action="store_true", help="no password login (API tokens only)")
    q.set_defaults(func=_cmd_users_add)
    q = sub.add_parser("list", parents=[db], help="list accounts")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_users_list)
    q = sub.add_parser("passwd", parents=[db], help="set an account's password")
    q.add_argument("name")
    q.add_argument("--password-stdin", action="store_true")
    q.set_defaults(func=_cmd_users_passwd)
    q = sub.add_parser("set", parents=[db], help="change an account's role and/or units")
    q.add_argument("name")
    q.add_argument("--role", choices=ROLES)
    q.add_argument("--unit", action="append", metavar="CODE", help="the account's units (replace the old ones; repeat)")
    q.add_argument("--no-units", action="store_true", help="remove every unit")
    q.set_defaults(func=_cmd_users_set)
    for action, active in (("disable", False), ("enable", True)):
        q = sub.add_parser(action, parents=[db], help=f"{action} an account")
        q.add_argument("name")
        q.set_defaults(func=_cmd_users_active, active=active)
    q = sub.add_parser("logout", parents=[db], help="end every web session of an account (all its browsers)")
    q.add_argument("name")
    q.set_defaults(func=_cmd_users_logout)

    p = subparsers.add_parser("token", help="API tokens for scripts")
    sub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    q = sub.add_parser("create", parents=[db], help="create a token (printed once)")
    q.add_argument("name")
    q.add_argument("--label", help="what the token is for")
    q.set_defaults(func=_cmd_token_create)
    q = sub.add_parser("revoke", parents=[db], help="revoke every token of an account")
    q.add_argument("name")
    q.set_defaults(func=_cmd_token_revoke)

    p = subparsers.add_parser(
        "import",
        parents=[db],
        help="import a models file: preview, then --commit",
        description="Preview (default) or apply (--commit) an import; all or nothing; "
        "re-importing the same file changes nothing. Exit code 1 when rows are rejected.",
    )
    p.add_argument("file")
    p.add_argument("--unit", metavar="CODE", help="the unit the file is for (positions must lie inside it)")
    p.add_argument(
        "--input-crs",
        metavar="CRS",
        help="CRS of x/y columns or of a file without one (e.g. EPSG:3405, EPSG:9210 for VN-2000)",
    )
    p.add_argument("--user", metavar="NAME", help="import as this account (its scope applies; default: system)")
    p.add_argument("--commit", action="store_true", help="apply the import")
    p.add_argument(
        "--skip-rejected", action="store_true", help="with --commit: apply the accepted rows, skip rejected ones"
    )
    p.add_argument("--json", action="store_true", help="print the preview as JSON")
    p.add_argument("--max-lines", type=int, default=50, help="lines of details per section (default 50)")
    add_quiet_argument(p)
    p.set_defaults(func=_cmd_import)

    p = subparsers.add_parser("audit", parents=[db], help="who changed what, when (newest first)")
    p.add_argument("--model", metavar="ID", help="only this model")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="number of entries (default 50)")
    p.add_argument("--user", metavar="NAME", help="as seen by this account (its scope applies)")
    p.add_argument("--by", metavar="NAME", help="only changes made by this account")
    p.add_argument("--unit", metavar="CODE", help="only entries of this unit and the units below it")
    p.add_argument(
        "--since",
        metavar="DATE",
        help="from this date or time (YYYY-MM-DD[THH:MM]; Vietnam time unless an offset is given)",
    )
    p.add_argument("--until", metavar="DATE", help="up to this date (the whole day) or time")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_audit)

    p = subparsers.add_parser("backup", parents=[db], help="write units, models and audit log to a GeoPackage")
    p.add_argument("file", help="FILE.gpkg")
    p.set_defaults(func=_cmd_backup)

    p = subparsers.add_parser(
        "restore", parents=[db], help="replace units, models and audit log by a backup (accounts kept)"
    )
    p.add_argument("file", help="FILE.gpkg")
    p.set_defaults(func=_cmd_restore)
