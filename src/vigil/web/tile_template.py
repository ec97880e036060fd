"""A map's XYZ tile URL template, as the pages' settings take it (a force's own tile server)."""


def checked_tile_template(value: str | None) -> str | None:
    """``value`` if it is an http(s) URL holding ``{z}``, ``{x}`` and ``{y}`` (None stays None: no tiles, a grid).

    Raises:
        ValueError: it is not such a template; the message says what to give instead.
    """
    if value is None:
        return None
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http(s) URL")
    missing = [part for part in ("{z}", "{x}", "{y}") if part not in value]
    if missing:
        raise ValueError(f"{value!r} lacks {', '.join(missing)}: give an XYZ template like …/{{z}}/{{x}}/{{y}}.png")
    return value
