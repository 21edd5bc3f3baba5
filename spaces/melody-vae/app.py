"""Melody VAE: a latent space of melodies you can hear, as a Gradio Space.

    python spaces/melody-vae/app.py   # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT change it)
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# In a Space the code sits beside this file; in the repository it is two folders up.
sys.path.insert(0, str(HERE if (HERE / "plugins").is_dir() else HERE.parents[1]))

from plugins.hub import serve  # noqa: E402

if __name__ == "__main__":
    serve(["melody-vae"], title='Melody VAE: a latent space of melodies you can hear')
