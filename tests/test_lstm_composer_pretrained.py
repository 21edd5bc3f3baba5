"""The shipped composer: its code is the repository's, its card's three lines make music without the repository,
and what it composes keeps rhythm and does not loop one bar."""

import filecmp
import re
import subprocess
import sys

import mido
import pytest

from conftest import REPO_ROOT, clean_env

SHIPPED = REPO_ROOT / "pretrained" / "lstm-composer"
MODEL_CODE = REPO_ROOT / "models" / "lstm_composer"

pytestmark = pytest.mark.skipif(not (SHIPPED / "config.json").is_file(), reason="pretrained/lstm-composer not shipped")


def test_shipped_code_is_the_repository_code():
    for folder in (SHIPPED, SHIPPED.with_name("lstm-composer-lecture-04")):
        if not (folder / "config.json").is_file():
            continue
        for name in ("configuration_lstm_composer.py", "modeling_lstm_composer.py", "midi_codec.py", "fused_step.py"):
            assert filecmp.cmp(folder / name, MODEL_CODE / name, shallow=False), f"{folder.name}/{name} differs"


def test_card_snippet_composes_a_piece_in_a_fresh_process_without_the_repository(tmp_path):
    card = (SHIPPED / "README.md").read_text()
    snippet = re.search(r"## Usage\s+```python\n(.*?)```", card, re.S).group(1)
    assert len([line for line in snippet.splitlines() if line.strip() and not line.startswith("#")]) == 3
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
