"""One module per command or command group, each declaring ``COMMAND`` (see ci.command)."""

#: The commands that make scratch databases as they start, and how many at most (a round
#: trip's two workers; ``check``'s third, for the ORM's schema): on a server given by URL,
#: ``ci.launch`` has the server make them while Python imports the command.
SCRATCH_AHEAD = {"roundtrip": 2, "check": 3}
