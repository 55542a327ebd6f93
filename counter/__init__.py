"""The counter pad at each clerk's desk: buttons (GPIO, keys or MQTT buttons) to commands."""
