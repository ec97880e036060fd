"""The message bus between body cameras and the command centre: in-process by default, MQTT 5 in the field."""
