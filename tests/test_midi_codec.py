"""The MIDI reader and both codecs: hand-made files byte by byte, round trips, the real corpus, bad files."""

import io
import struct

import mido
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DATASETS
from models.lstm_composer.midi_codec import (
    BOS, MAX_FILE_BYTES, LectureCodec, Note, PerformanceCodec, SPECIAL_TOKENS, UnusableMidiError, canonical_notes,
    midi_bytes, notes_to_midi, read_score,
)

MIDI_CORPUS = DATASETS / "midi"


# ------------------------------------------------------------------ hand-made Standard MIDI Files
def variable_length(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def track(*events: tuple[int, bytes]) -> bytes:
    """(delta ticks, raw event bytes) pairs -> an MTrk chunk ending with end-of-track."""
    data = b"".join(variable_length(delta) + raw for delta, raw in events) + b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(data)) + data


def smf(*tracks: bytes, midi_type: int = 1, division: int = 480) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, midi_type, len(tracks), division) + b"".join(tracks)


def tempo(microseconds: int) -> bytes:
    return b"\xff\x51\x03" + microseconds.to_bytes(3, "big")


# A C major chord held one beat, then E and G in eighths, written with running status
# and note-offs as note_on velocity 0 (what many sequencers write).
RUNNING_STATUS = smf(track(
    (0, tempo(500_000)),
    (0, b"\x90\x3c\x64"), (0, b"\x40\x64"), (0, b"\x43\x64"),  # note_on 60, then running status 64, 67
    (480, b"\x3c\x00"), (0, b"\x40\x00"), (0, b"\x43\x00"),  # velocity 0 = note off, still running status
    (0, b"\x40\x50"), (240, b"\x80\x40\x40"), (0, b"\x90\x43\x50"), (240, b"\x43\x00"),
), midi_type=0)
EXPECTED_NOTES = [(0, 60, 480), (0, 64, 480), (0, 67, 480), (480, 64, 240), (720, 67, 240)]


def plain(notes):
    return [(note.onset, note.pitch, note.duration) for note in notes]


def test_running_status_and_velocity_zero_note_offs_are_read():
    score = read_score(RUNNING_STATUS)
    assert plain(score.notes) == EXPECTED_NOTES
    assert score.ticks_per_beat == 480 and score.midi_type == 0


def test_type_0_and_type_1_files_give_the_same_notes_and_tokens():
    melody = [(0, b"\x90\x48\x64"), (480, b"\x80\x48\x00"), (0, b"\x90\x4a\x64"), (480, b"\x80\x4a\x00")]
    bass = [(0, b"\x91\x30\x64"), (960, b"\x81\x30\x00")]
    type1 = smf(track((0, tempo(600_000))), track(*melody), track(*bass), midi_type=1)
    # Type 0: both channels interleaved in one track.
    type0 = smf(track((0, tempo(600_000)), (0, b"\x90\x48\x64"), (0, b"\x91\x30\x64"), (480, b"\x80\x48\x00"),
                      (0, b"\x90\x4a\x64"), (480, b"\x80\x4a\x00"), (0, b"\x81\x30\x00")), midi_type=0)
    one, zero = read_score(type1), read_score(type0)
    assert plain(one.notes) == plain(zero.notes) == [(0, 48, 960), (0, 72, 480), (480, 74, 480)]
    codec = PerformanceCodec()
    assert codec.tokens_from_score(one) == codec.tokens_from_score(zero) == [
        "note_48", "dur_24", "note_72", "dur_12", "shift_12", "note_74", "dur_12"]


def test_tempo_changes_move_seconds_not_beats():
    notes = [(0, b"\x90\x3c\x64"), (480, b"\x80\x3c\x00"), (0, b"\x90\x3e\x64"), (480, b"\x80\x3e\x00"),
             (0, b"\x90\x40\x64"), (480, b"\x80\x40\x00")]
    steady = smf(track((0, tempo(500_000)), *notes), midi_type=0)
    slowing = smf(track((0, tempo(500_000)), (0, b"\x90\x3c\x64"), (480, b"\x80\x3c\x00"), (0, tempo(1_000_000)),
                        (0, b"\x90\x3e\x64"), (480, b"\x80\x3e\x00"), (0, b"\x90\x40\x64"), (480, b"\x80\x40\x00")),
                  midi_type=0)
    a, b = read_score(steady), read_score(slowing)
    assert a.seconds() == pytest.approx(1.5) and b.seconds() == pytest.approx(0.5 + 2 * 1.0)
    codec = PerformanceCodec()
    assert codec.tokens_from_score(a) == codec.tokens_from_score(b), "the rhythm in beats is unchanged"
    assert LectureCodec(list(SPECIAL_TOKENS)).tokens_from_score(b) == ["[60]", "[62]", "[64]"]


def test_re_struck_key_ends_the_sounding_note_and_starts_a_new_one():
    data = smf(track((0, b"\x90\x3c\x64"), (240, b"\x90\x3c\x64"), (240, b"\x80\x3c\x00")), midi_type=0)
    assert plain(read_score(data).notes) == [(0, 60, 240), (240, 60, 240)]


def test_drums_are_left_out_and_open_notes_end_with_their_track():
    data = smf(track((0, b"\x99\x24\x64"), (0, b"\x90\x3c\x64"), (480, b"\x89\x24\x00"), (480, b"\xb0\x07\x64")),
               midi_type=0)
    score = read_score(data)
    assert plain(score.notes) == [(0, 60, 960)] and score.drum_notes == 1


# ------------------------------------------------------------------ the lecture codec
def test_lecture_chords_are_sorted_pitches_per_onset_and_keep_the_highest_maxnotes():
    score = read_score(RUNNING_STATUS)
    assert LectureCodec(list(SPECIAL_TOKENS)).tokens_from_score(score) == ["[60, 64, 67]", "[64]", "[67]"]
    assert LectureCodec(list(SPECIAL_TOKENS), maxnotes=2).tokens_from_score(score) == ["[64, 67]", "[64]", "[67]"]


def test_lecture_chord_keeps_one_pitch_twice_when_lengths_differ_like_np_unique():
    # Two channels play C at once, one for a beat and one for two: the lecture's np.unique keeps both rows.
    data = smf(track((0, b"\x90\x3c\x64"), (0, b"\x91\x3c\x64"), (0, b"\x91\x40\x64"), (480, b"\x80\x3c\x00"),
                     (480, b"\x81\x3c\x00"), (0, b"\x81\x40\x00")), midi_type=0)
    assert LectureCodec(list(SPECIAL_TOKENS)).tokens_from_score(read_score(data)) == ["[60, 60, 64]"]


def test_lecture_decoding_writes_each_chord_for_120_ticks_with_program_and_tempo():
    codec = LectureCodec(LectureCodec.build_vocabulary(["[60, 64, 67]", "[62]"]))
    midi = codec.midi_from_tokens(["[60, 64, 67]", "[62]", "[60, 64, 67]"], tempo_bpm=160.0, program=46)
    messages = list(midi.tracks[0])
    assert mido.tempo2bpm(next(m for m in messages if m.type == "set_tempo").tempo) == pytest.approx(160.0)
    assert next(m for m in messages if m.type == "program_change").program == 46
    score = read_score(midi_bytes(midi))
    assert plain(score.notes) == [(0, 60, 120), (0, 64, 120), (0, 67, 120), (120, 62, 120),
                                  (240, 60, 120), (240, 64, 120), (240, 67, 120)]
    assert codec.tokens_from_score(score) == ["[60, 64, 67]", "[62]", "[60, 64, 67]"]


def test_lecture_vocabulary_is_sorted_set_after_special_tokens():
    chords = ["[62]", "[60, 64]", "[62]", "[100]"]
    assert LectureCodec.build_vocabulary(chords) == [*SPECIAL_TOKENS, "[100]", "[60, 64]", "[62]"]


# ------------------------------------------------------------------ the performance codec
def test_performance_tokens_of_the_hand_made_file():
    codec = PerformanceCodec()
    tokens = codec.tokens_from_score(read_score(RUNNING_STATUS))
    assert tokens == ["note_60", "dur_12", "note_64", "dur_12", "note_67", "dur_12",
                      "shift_12", "note_64", "dur_6", "shift_6", "note_67", "dur_6"]
    assert codec.notes_from_tokens(tokens) == codec.grid_notes(read_score(RUNNING_STATUS))


def test_long_rests_take_several_shifts_and_long_notes_are_clipped():
    codec = PerformanceCodec(steps_per_beat=4, max_shift_steps=8, max_duration_steps=16)
    tokens = codec.tokens_from_notes([Note(0, 60, 4), Note(20, 62, 40)])
    assert tokens == ["note_60", "dur_4", "shift_8", "shift_8", "shift_4", "note_62", "dur_40"]
    assert codec.grid_notes(read_score(midi_bytes(notes_to_midi([Note(0, 62, 40)], 120, 480, 120, 0))))[0].duration == 16


def test_malformed_generated_tokens_decode_forgivingly():
    codec = PerformanceCodec()
    notes = codec.notes_from_tokens(["dur_6", "note_60", "note_62", "dur_3", "shift_12", "note_64"])
    assert plain(notes) == [(0, 60, 12), (0, 62, 3), (12, 64, 12)]


def round_trip(codec: PerformanceCodec, data):
    """file -> tokens -> file -> tokens; returns (grid notes of the original, grid notes after the trip)."""
    score = read_score(data)
    written = codec.midi_from_tokens(codec.tokens_from_score(score))
    return codec.grid_notes(score), codec.grid_notes(read_score(midi_bytes(written)))


def test_performance_round_trip_of_hand_made_files():
    codec = PerformanceCodec()
    before, after = round_trip(codec, RUNNING_STATUS)
    assert before == after and plain(after) == [(0, 60, 12), (0, 64, 12), (0, 67, 12), (12, 64, 6), (18, 67, 6)]


def corpus_sample(step: int = 25):
    files = sorted(MIDI_CORPUS.rglob("*.mid"))
    if not files:
        pytest.skip(f"the MIDI corpus is not in {MIDI_CORPUS}")
    return files[::step]


def test_performance_round_trip_on_the_real_corpus():
    """Every 25th file of each collection: pitches, onsets and durations survive on the 12-per-beat grid."""
    codec = PerformanceCodec()
    checked = exact_on_grid = 0
    for path in corpus_sample():
        score = read_score(path)
        before, after = round_trip(codec, path)
        assert plain(before) == plain(after), path.name
        # And the grid is fine enough: most notes were on it to begin with (before quantising).
        exact_on_grid += sum(note.onset * 12 % score.ticks_per_beat == 0 for note in score.notes)
        checked += len(score.notes)
    assert exact_on_grid / checked > 0.97


def test_lecture_round_trip_on_the_real_corpus():
    """Chords -> file -> chords gives the same chords, one pitch per key (a file cannot sound a key twice)."""
    for path in corpus_sample(50):
        chords = LectureCodec(list(SPECIAL_TOKENS)).tokens_from_score(read_score(path))
        codec = LectureCodec(LectureCodec.build_vocabulary(chords))
        again = codec.tokens_from_score(read_score(midi_bytes(codec.midi_from_tokens(chords))))
        assert again == [str(sorted(set(LectureCodec.pitches(chord)))) for chord in chords], path.name


# ------------------------------------------------------------------ files that cannot be used
def test_unusable_files_give_a_clear_error(tmp_path):
    header_only = smf()
    cases = {
        "empty": (b"", "empty"),
        "not midi": (b"%PDF-1.4 not a midi file", "not a MIDI file"),
        "truncated": (RUNNING_STATUS[:40], "damaged or truncated"),
        "no notes": (header_only, "no notes"),
        "type 2": (smf(track((0, b"\x90\x3c\x64"), (480, b"\x80\x3c\x00")), midi_type=2), "type 2"),
        "drums only": (smf(track((0, b"\x99\x24\x64"), (480, b"\x89\x24\x00")), midi_type=0), "only drum notes"),
        "absurd tempo": (smf(track((0, tempo(1)), (0, b"\x90\x3c\x64"), (480, b"\x80\x3c\x00")), midi_type=0),
                         "tempo"),
        "smpte": (smf(track((0, b"\x90\x3c\x64"), (480, b"\x80\x3c\x00")), midi_type=0, division=0xE728), "SMPTE"),
        "endless note": (smf(track((0, b"\x90\x3c\x64"), (0x0FFFFFFF, b"\x80\x3c\x00")), midi_type=0, division=24),
                         "beats"),
    }
    for name, (data, message) in cases.items():
        with pytest.raises(UnusableMidiError, match=message):
            read_score(data)
        path = tmp_path / f"{name.replace(' ', '-')}.mid"
        path.write_bytes(data)
        with pytest.raises(UnusableMidiError, match=message):
            read_score(path)


def test_too_many_notes_and_too_big_files_are_refused(tmp_path):
    many = b"".join(variable_length(1) + bytes([0x90, 60, 100]) + variable_length(1) + bytes([0x80, 60, 0])
                    for _ in range(100_001))
    data = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(many) + 4) + many + \
        b"\x00\xff\x2f\x00"
    assert len(data) < MAX_FILE_BYTES
    with pytest.raises(UnusableMidiError, match="more than 100,000 notes"):
        read_score(data)
    huge = tmp_path / "huge.mid"
    huge.write_bytes(RUNNING_STATUS + b"\x00" * MAX_FILE_BYTES)
    with pytest.raises(UnusableMidiError, match="at most 5 MB"):
        read_score(huge)
    with pytest.raises(UnusableMidiError, match="could not be read"):
        read_score(tmp_path / "missing.mid")


def test_ids_from_midi_starts_with_bos_and_refuses_unknown_chords():
    codec = PerformanceCodec()
    ids = codec.ids_from_midi(RUNNING_STATUS)
    assert ids[0] == BOS and codec.tokens_from_ids(ids) == codec.tokens_from_score(read_score(RUNNING_STATUS))
    lecture = LectureCodec(LectureCodec.build_vocabulary(["[1, 2]"]))
    with pytest.raises(UnusableMidiError, match="vocabulary"):
        lecture.ids_from_midi(RUNNING_STATUS)


# ------------------------------------------------------------------ properties (hypothesis)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_any_bytes_either_read_or_raise_unusable_midi_error(data):
    try:
        score = read_score(data)
    except UnusableMidiError as error:
        assert str(error)
    else:
        assert score.notes


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_real_files_either_read_or_raise_unusable_midi_error(data):
    original = bytearray(RUNNING_STATUS)
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(original) - 1))
        original[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(original)))
    try:
        read_score(bytes(original[:cut]))
    except UnusableMidiError:
        pass


grid_notes = st.lists(st.tuples(st.integers(0, 400), st.integers(0, 127), st.integers(1, 96)), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(grid_notes)
def test_performance_round_trip_property(raw):
    codec = PerformanceCodec()
    notes = canonical_notes([Note(onset, pitch, duration, 0, 80) for onset, pitch, duration in raw])
    tokens = codec.tokens_from_notes(notes)
    assert codec.notes_from_tokens(tokens) == notes
    written = midi_bytes(codec.midi_from_tokens(tokens, tempo_bpm=90.0, program=5))
    assert codec.grid_notes(read_score(written)) == notes


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.integers(0, 127), min_size=1, max_size=5), min_size=1, max_size=40))
def test_lecture_round_trip_property(chords):
    tokens = [str(sorted(set(chord))) for chord in chords]
    codec = LectureCodec(LectureCodec.build_vocabulary(tokens))
    again = codec.tokens_from_score(read_score(midi_bytes(codec.midi_from_tokens(tokens))))
    assert again == tokens


def test_mido_written_file_round_trips_through_bytes():
    midi = notes_to_midi([Note(0, 60, 12), Note(12, 62, 12)], 40, 480, 100.0, 0)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    assert plain(read_score(buffer.getvalue()).notes) == [(0, 60, 480), (480, 62, 480)]
