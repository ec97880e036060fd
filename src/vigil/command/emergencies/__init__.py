"""An officer in danger: raised by their device, acknowledged, answered with units, resolved."""
