"""One module per command or command group, each declaring ``COMMAND`` (see ci.command)."""
