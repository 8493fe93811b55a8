"""One Typer module per command group; each is thin: parse, open the database, call the library."""
