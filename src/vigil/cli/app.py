"""The ``vigil`` command: one Typer app with a sub-command per job.

Every command that reports something takes ``--json`` and then prints exactly one JSON document to stdout;
progress and logs go to stderr. A :class:`~vigil.errors.VigilError` ends the command with its message and
exit status 1, without a traceback (see :mod:`vigil.cli.boundary`); any other exception keeps its traceback.
"""

import typer

from vigil.cli.audit import create_audit_app
from vigil.cli.bench import create_bench_app
from vigil.cli.calibrate import register_calibrate_command
from vigil.cli.demo import register_demo_command
from vigil.cli.edge import create_edge_app
from vigil.cli.evaluate import create_evaluate_app
from vigil.cli.faces import register_face_commands
from vigil.cli.governance import register_governance_commands
from vigil.cli.models import create_models_app
from vigil.cli.pki import create_pki_app
from vigil.cli.serve import register_server_commands
from vigil.cli.sim import create_sim_app
from vigil.cli.users import create_users_app
from vigil.cli.watchlist import register_watchlist_commands


def create_app() -> typer.Typer:
    """Build the ``vigil`` command with all its sub-commands."""
    app = typer.Typer(
        name="vigil",
        help="Vigil: watchlist face recognition for body-worn cameras and the command centre.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    register_demo_command(app)
    register_face_commands(app)
    app.add_typer(create_evaluate_app(), name="evaluate")
    register_watchlist_commands(app)
    register_calibrate_command(app)
    register_governance_commands(app, devices=register_server_commands(app))
    app.add_typer(create_users_app(), name="users")
    app.add_typer(create_audit_app(), name="audit")
    app.add_typer(create_bench_app(), name="bench")
    app.add_typer(create_models_app(), name="models")
    app.add_typer(create_edge_app(), name="edge")
    app.add_typer(create_sim_app(), name="sim")
    app.add_typer(create_pki_app(), name="pki")
    return app


def main() -> None:
    """Run the ``vigil`` command line."""
    create_app()()
