"""The shipped composer: its code is the repository's (plain model code: the hub's fast step stays here), its
card is what the card code writes, its card's three lines make music without the repository, a Hub user's
plain model composes the hub's pieces, and what it composes keeps rhythm and does not loop one bar."""

import filecmp
import json
import re
import shutil
import subprocess
import sys

import mido
import pytest

from conftest import REPO_ROOT, clean_env

SHIPPED = REPO_ROOT / "pretrained" / "lstm-composer"
MODEL_CODE = REPO_ROOT / "models" / "lstm_composer"

pytestmark = pytest.mark.skipif(not (SHIPPED / "config.json").is_file(), reason="pretrained/lstm-composer not shipped")


FOLDERS = [folder for folder in (SHIPPED, SHIPPED.with_name("lstm-composer-lecture-04"))
           if (folder / "config.json").is_file()]
# The model code that travels with the weights: every file of models/lstm_composer but the package's __init__.
TRAVELLING = sorted(path.name for path in MODEL_CODE.glob("*.py") if path.name != "__init__.py")


def test_shipped_code_is_the_repository_code():
    assert TRAVELLING == ["configuration_lstm_composer.py", "midi_codec.py", "modeling_lstm_composer.py"]
    for folder in FOLDERS:
        assert sorted(path.name for path in folder.glob("*.py")) == TRAVELLING, folder.name
        for name in TRAVELLING:
            assert filecmp.cmp(folder / name, MODEL_CODE / name, shallow=False), f"{folder.name}/{name} differs"


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_the_card_is_what_the_card_code_writes_from_the_saved_results(folder):
    from plugins.cards import render_model_card, repo_id_for
    from plugins.registry import get_plugin

    results = json.loads((folder / "results.json").read_text())
    expected = render_model_card(get_plugin("lstm-composer"), results, repo_id_for(folder.name))
    assert (folder / "README.md").read_text() == expected, "rewrite it: python -m plugins.cards " + str(folder)


# A Hub user's copy: the model's own plain step, loaded through the auto class its config maps, in a process
# that cannot import the repository. It prints the pieces for the primer of seed 0: greedy, and the card's sample.
HUB_USER = """
import json, sys
import torch
from transformers import AutoModel

model = AutoModel.from_pretrained(sys.argv[1], trust_remote_code=True)
assert model.stepper_factory is None  # the plain LstmStepper: forward on one token
primer = model.random_primer(torch.Generator().manual_seed(0))
greedy = model.compose_ids(primer, strategy="greedy", seed=0)[0]
sample = model.compose_ids(primer, seed=0)[0]
try:
    import plugins
except ImportError:
    print(json.dumps({"primer": primer, "greedy": greedy, "sample": sample}))
else:
    raise SystemExit("the repository is importable")
"""


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_a_hub_users_plain_model_composes_the_hubs_pieces(folder, tmp_path):
    import torch

    from models.lstm_composer.midi_codec import midi_bytes
    from plugins.lstm_composer.fast_step import FastLstmStepper
    from plugins.registry import get_plugin

    copy = tmp_path / folder.name
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("sample.wav", "composer_corpus.safetensors"))
    (tmp_path / "hub_user.py").write_text(HUB_USER)
    env = clean_env(HF_HOME=str(tmp_path / "hf-home"))
    result = subprocess.run([sys.executable, "-I", str(tmp_path / "hub_user.py"), str(copy)], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    theirs = json.loads(result.stdout.strip().splitlines()[-1])

    served = get_plugin("lstm-composer").load_for_demo(folder)  # the hub's model, with its fast step
    primer = served.random_primer(torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert isinstance(served.stepper(served(input_ids=torch.tensor([primer])).state), FastLstmStepper)
    ours = {"primer": primer, "greedy": served.compose_ids(primer, strategy="greedy", seed=0)[0],
            "sample": served.compose_ids(primer, seed=0)[0]}
    assert theirs == ours
    # ... and the card's sample (seed 0, default settings) is that piece, to the byte
    piece = served.codec.midi_from_ids(primer + ours["sample"], served.config.tempo_bpm, served.config.program)
    assert midi_bytes(piece) == (folder / "sample.mid").read_bytes()


def test_card_snippet_composes_a_piece_in_a_fresh_process_without_the_repository(tmp_path):
    card = (SHIPPED / "README.md").read_text()
    snippet = re.search(r"## Usage\s+```python\n(.*?)```", card, re.S).group(1)
    assert len([line for line in snippet.splitlines() if line.strip() and not line.startswith("#")]) <= 7
    script = tmp_path / "compose.py"
    script.write_text(re.sub(r'from_pretrained\("[^"]+"', f'from_pretrained("{SHIPPED}"', snippet) +
                      "\ntry:\n    import plugins\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit('repo importable')\n")
    env = clean_env(HF_HOME=str(tmp_path / "hf-home"))  # remote code is cached here, not in the user's home
    result = subprocess.run([sys.executable, "-I", str(script)], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    piece = mido.MidiFile(tmp_path / "piece.mid")
    onsets, durations, sounding = [], [], {}
    now = 0
    for message in piece.tracks[0]:
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            sounding[message.note] = now
            onsets.append((now, message.note))
        elif message.type in ("note_off", "note_on") and message.note in sounding:
            durations.append(now - sounding.pop(message.note))
    assert len(onsets) >= 40, "512 tokens make dozens of notes"
    assert len(set(durations)) >= 3, "the rhythm is kept: durations vary"
    beat = piece.ticks_per_beat
    bars = {}
    for onset, pitch in onsets:
        bars.setdefault(onset // (4 * beat), []).append((onset % (4 * beat), pitch))
    assert len({tuple(notes) for notes in bars.values()}) >= 0.5 * len(bars), "not one bar looped"
