"""The MQTT broker's credentials and ACL, generated from the registered devices (`vigil devices broker-config`)."""
