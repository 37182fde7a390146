"""``python -m geo_antt``: the same command line as ``geo-antt``."""

from .cli._main import console_main

if __name__ == "__main__":
    console_main()
