from arbitrage_cli.cli import main

if __name__ == "__main__":  # not when a spawned process (serve-json's charts) imports it
    main()
