from arbitrage_cli.cli import main

main()
