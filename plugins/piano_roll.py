"""A piano roll whose playhead follows an audio player on the same page: the composers' picture of a piece.

Gradio 6.31 has no such component, so this is a `gr.HTML` with its own template and a few lines of page
JavaScript. The server side stays plain: a callback returns a `TimedRoll` (the roll's picture and the stretch of
the audio it shows, in seconds), which `postprocess` turns into {"image": a file Gradio serves, "start", "end"}.
In the browser a line is drawn over the picture at `(audio.currentTime - start) / (end - start)` of its width,
moved on the player's `timeupdate` and `seeked` events and on every animation frame while it plays; clicking the
picture moves the audio to that moment. The player must be a plain `<audio>` element, which `gr.Audio` shows when
its waveform is off (`PLAIN_PLAYER`); with the waveform on, the audio plays in an element that is not on the page.

Imported only by demo modules.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from gradio import processing_utils
from gradio.data_classes import FileData

# gr.Audio(waveform_options=PLAIN_PLAYER): the browser's own player, an <audio> element the playhead can follow.
PLAIN_PLAYER = gr.WaveformOptions(show_recording_waveform=False)

# The template is a JavaScript template string (Gradio evaluates it with `value`, `label` and the props in scope).
TEMPLATE = """
<div class="roll-caption">${label}</div>
${value && value.image ? `
<div class="roll-frame" data-start="${value.start}" data-end="${value.end}" title="Click to play from there">
  <img class="roll-image" src="${value.image.url}" alt="Piano roll of the piece" draggable="false">
  <div class="roll-playhead"></div>
</div>` : `<div class="roll-empty">The piece's notes appear here; a line follows the music as it plays.</div>`}
"""

CSS = """
.roll-caption { font-size: var(--block-label-text-size); color: var(--block-label-text-color); margin-bottom: 4px; }
.roll-frame { position: relative; cursor: pointer; line-height: 0; border: 1px solid var(--border-color-primary);
  border-radius: var(--radius-sm); overflow: hidden; }
.roll-image { width: 100%; height: auto; max-height: 360px; object-fit: fill; margin: 0 !important; }
.roll-playhead { position: absolute; top: 0; bottom: 0; left: 0; width: 2px; margin-left: -1px;
  background: #d62828; box-shadow: 0 0 3px rgba(214, 40, 40, 0.6); pointer-events: none; }
.roll-empty { padding: 18px 8px; color: var(--body-text-color-subdued); border: 1px dashed var(--border-color-primary);
  border-radius: var(--radius-sm); text-align: center; }
"""

# Media events do not bubble, but they pass through the document in the capture phase: listening there follows
# whichever <audio> element Gradio renders inside the player (it makes a new one for each piece).
ON_LOAD = """
const player = () => document.querySelector(`#${props.audio_id} audio`);
const frame = () => element.querySelector('.roll-frame');
const place = () => {
  const box = frame();
  if (!box) return;
  const head = box.querySelector('.roll-playhead');
  const start = parseFloat(box.dataset.start), end = parseFloat(box.dataset.end);
  const audio = player();
  const now = audio && audio.src ? audio.currentTime : 0;
  const fraction = end > start ? Math.min(1, Math.max(0, (now - start) / (end - start))) : 0;
  head.style.left = `${(100 * fraction).toFixed(3)}%`;
  head.dataset.fraction = fraction.toFixed(4);
  head.dataset.seconds = now.toFixed(3);
};
let frameRequest = null;
const follow = () => {
  place();
  const audio = player();
  frameRequest = audio && !audio.paused && !audio.ended ? requestAnimationFrame(follow) : null;
};
const onMedia = (event) => {
  if (!(event.target instanceof HTMLMediaElement) || !event.target.closest(`#${props.audio_id}`)) return;
  if (event.type === 'play' && frameRequest === null) follow(); else place();
};
for (const type of ['play', 'pause', 'ended', 'timeupdate', 'seeked', 'seeking', 'loadedmetadata', 'emptied']) {
  document.addEventListener(type, onMedia, true);
}
element.addEventListener('click', (event) => {
  const box = frame(), audio = player();
  if (!box || !audio || !audio.src) return;
  const rect = box.getBoundingClientRect();
  const start = parseFloat(box.dataset.start), end = parseFloat(box.dataset.end);
  const fraction = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
  const target = start + fraction * (end - start);
  audio.currentTime = Number.isFinite(audio.duration) ? Math.min(target, audio.duration) : target;
  place();
});
watch('value', place);
place();
"""


class PianoRoll(gr.HTML):
    """The picture of a piece with a playhead synchronised to `audio` (a `gr.Audio` with an elem_id, made with
    `waveform_options=PLAIN_PLAYER`). Its value is a `TimedRoll` (anything with `image`, a PIL image, and
    `start`/`end` in seconds of the audio) or None; over the API it is {"image": file, "start", "end"}."""

    def __init__(self, audio: gr.Audio, *, label: str = "Piano roll", elem_id: str | None = None, **kwargs):
        if not audio.elem_id:
            raise ValueError("the audio player a piano roll follows needs an elem_id")
        if audio.waveform_options.show_recording_waveform:
            raise ValueError("the audio player a piano roll follows must show the browser's player: "
                             "gr.Audio(..., waveform_options=PLAIN_PLAYER)")
        super().__init__(value=None, label=label, html_template=TEMPLATE, css_template=CSS, js_on_load=ON_LOAD,
                         elem_id=elem_id, audio_id=audio.elem_id, **kwargs)

    def postprocess(self, value: Any) -> dict | None:
        if value is None:
            return None
        path = processing_utils.save_pil_to_cache(value.image, cache_dir=self.GRADIO_CACHE, name="piano-roll",
                                                  format="png")
        return {"image": FileData(path=path, orig_name="piano-roll.png").model_dump(),
                "start": round(float(value.start), 4), "end": round(float(value.end), 4)}

    def preprocess(self, payload: Any) -> Any:
        return payload  # an output only; the hub never reads a roll sent to it

    def api_info(self) -> dict[str, Any]:
        return {"type": "object", "description": "the piano roll (a PNG file) and the seconds of the audio it spans",
                "properties": {"image": {"type": "object", "description": "a PNG file",
                                         "properties": {"path": {"type": "string"}, "url": {"type": "string"}}},
                               "start": {"type": "number"}, "end": {"type": "number"}}}

    def example_payload(self) -> Any:
        return None

    def example_value(self) -> Any:
        return None


__all__ = ["PianoRoll", "PLAIN_PLAYER"]
