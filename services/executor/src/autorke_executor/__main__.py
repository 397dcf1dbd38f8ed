"""``python -m autorke_executor``: run the executor service (settings from AUTORKE_* variables)."""
from autorke_common.serve import serve
from autorke_executor.bootstrap import ExecutorSettings, create_app

if __name__ == "__main__":
    serve(create_app, ExecutorSettings())
