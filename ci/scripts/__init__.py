"""One module per subcommand, each with ``run(config, args, printer) -> int``."""
