"""``python -m autorke_inventory``: run the inventory service (settings from AUTORKE_* variables)."""
from autorke_common.serve import serve
from autorke_inventory.bootstrap import InventorySettings, create_app

if __name__ == "__main__":
    serve(create_app, InventorySettings())
