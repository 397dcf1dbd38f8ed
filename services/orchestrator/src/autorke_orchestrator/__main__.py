"""``python -m autorke_orchestrator``: run the orchestrator service (settings from AUTORKE_* variables)."""
from autorke_common.serve import serve
from autorke_orchestrator.bootstrap import OrchestratorSettings, create_app

if __name__ == "__main__":
    serve(create_app, OrchestratorSettings())
