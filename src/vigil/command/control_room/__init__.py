"""The control-room page: the browser page ``vigil serve`` serves at ``/control/``, and the settings it reads."""
