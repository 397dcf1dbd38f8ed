"""``python -m autorke_lab.vcalico --fd N``: the VCalico child process (see ``server``)."""
from autorke_lab.vcalico.server import main

main()
