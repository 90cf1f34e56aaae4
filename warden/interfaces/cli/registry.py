"""`warden registry suggest`: aliases proposed for the model ids the feeds sent that the
registry does not know (warden/catalog/suggestions.py), as a registry file to review and list
under `registry:` in the config. Added to the `registry` group of the main command."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from warden.interfaces.cli.common import Context, config_option, pass_ctx, user_errors


@click.command()
@click.option(
    "--write",
    "target",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the proposals to FILE (a new file), else print them.",
)
@config_option
@pass_ctx
@user_errors
def suggest(ctx: Context, target: Path | None) -> None:
    """Propose registry entries for the model ids stored unmapped (`warden registry unmapped`).

    Ids are matched by their spelling, normalised (case, separators, provider prefix, a date
    stamp, effort and scaffold suffixes), and checked against what the feeds say of the model:
    organisation, release date, parameters, open weights. Spellings that differ in a word
    (instruct, chat, a size) never match. Prints a registry file (YAML: `model_aliases:` for
    models the registry has, `models:` for new ones) to review; list it under `registry:` in
    the config to map the ids ingested from then on. A summary goes to stderr.
    """
    from warden.catalog.registry import load_registry
    from warden.catalog.suggestions import Sighting, render
    from warden.catalog.suggestions import suggest as propose
    from warden.catalog.thresholds import load_catalog
    from warden.core.errors import CatalogError, UsageError
    from warden.store import sightings

    if target is not None and target.exists():
        raise UsageError(f"--write {target}: the file exists; give a new file")
    settings = ctx.settings()
    try:  # the catalog's models too, when it loads; the registry files alone when it does not
        registry = load_catalog(settings.catalog_paths(), settings.registry_paths()).registry
    except CatalogError:
        registry = load_registry(settings.registry_paths())
        click.echo(
            "warden: warning: the catalog does not load (`warden check` says why): "
            "proposals are checked against the registry files only",
            err=True,
        )
    store = ctx.store()
    try:
        with store.read() as conn:
            rows = sightings.unmapped_models(conn)
    finally:
        store.dispose()
    seen = [Sighting.from_attributes(*row) for row in rows]
    result = propose(registry, seen)
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    header = (
        f"Proposed by `warden registry suggest` at {now} for {len({s.id for s in seen})} "
        "unmapped model ids.\nReview every entry (a wrong alias merges two models), then list "
        "this file under `registry:`\nin the config, after `bundled`."
    )
    text = render(result, header)
    ids = len({s.id for s in seen})
    summary = (
        f"{ids} unmapped model ids: {result.mapped} mapped by the proposals "
        f"({sum(len(p.aliases) for p in result.aliases)} aliases of {len(result.aliases)} "
        f"known models, {len(result.new)} new models), {len(result.left)} left"
    )
    if target is None:
        click.echo(text, nl=False)
        click.echo(summary, err=True)
        return
    try:
        with target.open("x", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise UsageError(f"--write {target}: {exc.strerror or exc}") from exc
    click.echo(f"{summary}; written to {target}", err=True)


def register(main: click.Group) -> None:
    group = main.commands["registry"]
    assert isinstance(group, click.Group)
    group.add_command(suggest)
