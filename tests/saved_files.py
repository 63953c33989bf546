"""Editing saved `.keras` archives, to make files an older version would have written."""

import json
import zipfile


def drop_from_saved_config(path, key):
    """Removes `key` from the top-level model config inside the `.keras` archive."""
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    del config["config"][key]
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
