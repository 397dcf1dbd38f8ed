"""``python -m autorke_lab.idp --fd N``: the identity provider child process."""
from autorke_lab.idp.server import main

main()
