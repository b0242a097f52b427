"""Starts TensorZero's embedded HTTP gateway (from the PyPI wheel) with a config file, writes its
base URL (ending in /openai/v1) and a newline to a file, and stays until it is terminated.
    python start_tensorzero.py CONFIG_FILE URL_FILE
(Not named tensorzero.py: the script's own folder comes first on sys.path, so it would import itself.)
"""
import signal
import sys

import tensorzero

gateway = tensorzero._start_http_gateway(
    config_file=sys.argv[1], clickhouse_url=None, postgres_url=None, valkey_url=None,
    async_setup=False,
)
with open(sys.argv[2], "w") as out:
    out.write(gateway.base_url + "\n")
signal.pause()  # until the benchmark stops the process group
