"""``python -m autorke_netcfg``: run the netcfg service (settings from AUTORKE_* variables)."""
from autorke_common.serve import serve
from autorke_netcfg.bootstrap import NetcfgSettings, create_app

if __name__ == "__main__":
    serve(create_app, NetcfgSettings())
