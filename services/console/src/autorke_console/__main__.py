"""``python -m autorke_console``: run the console service (settings from AUTORKE_* variables)."""
from autorke_common.serve import serve
from autorke_console.bootstrap import ConsoleSettings, create_app

if __name__ == "__main__":
    serve(create_app, ConsoleSettings())
