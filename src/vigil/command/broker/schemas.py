"""What ``vigil devices broker-config`` reports: the files it wrote and whom they let in."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ServerUser(BaseModel):
    """A command-centre server's broker user."""

    model_config = ConfigDict(frozen=True)

    user: str = Field(description="The broker user name, which is also the server's MQTT client id.")
    secret_file: Path = Field(description="Its password (mode 0600); give it to `vigil serve --bus-password-file`.")
    created: bool = Field(description="Whether the secret was made by this run (else an existing one was kept).")


class BrokerConfig(BaseModel):
    """The broker files as written, and the users in them."""

    model_config = ConfigDict(frozen=True)

    directory: Path = Field(description="Where the files are.")
    password_file: Path = Field(description="Mosquitto password file: one `user:$7$…` line per user.")
    acl_file: Path = Field(description="Mosquitto ACL file: each device its own topics; servers every device's.")
    config_file: Path = Field(description="Mosquitto config lines naming both files; include it in mosquitto.conf.")
    config_written: bool = Field(description="Whether this run wrote the config lines (else it kept them).")
    devices: list[str] = Field(description="Device users written (live devices with a broker credential).")
    servers: list[ServerUser] = Field(description="Command-centre server users written.")
    share_group_file: Path = Field(
        description="The servers' shared-subscription group (mode 0600); give it to `vigil serve --bus-group-file`."
    )
    without_credentials: list[str] = Field(
        description="Live devices left out: registered before broker credentials existed (register a replacement)."
    )
