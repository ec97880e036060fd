"""The control room's end-to-end setting (:mod:`tests.command.web.conftest`) for the page's tests kept here."""

from tests.command.web.conftest import control_room, open_wall

__all__ = ["control_room", "open_wall"]
