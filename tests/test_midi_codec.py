"""The MIDI reader and both codecs: hand-made files byte by byte, round trips, the real corpus, bad files."""

import io
import struct
import tracemalloc
from collections import Counter

import mido
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DATASETS
from models.lstm_composer.midi_codec import (
    BOS, EVENT_KINDS, MAX_BEATS, MAX_DATA_BYTES, MAX_EVENTS, MAX_FILE_BYTES, MAX_NOTES, MAX_SECONDS, MAX_TRACKS,
    LectureCodec, Note, PerformanceCodec, SPECIAL_TOKENS, UnusableMidiError, canonical_notes, count_events,
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
RUNNING_STATUS_EVENTS = (
    (0, b"\x90\x3c\x64"), (0, b"\x40\x64"), (0, b"\x43\x64"),  # note_on 60, then running status 64, 67
    (480, b"\x3c\x00"), (0, b"\x40\x00"), (0, b"\x43\x00"),  # velocity 0 = note off, still running status
    (0, b"\x40\x50"), (240, b"\x80\x40\x40"), (0, b"\x90\x43\x50"), (240, b"\x43\x00"),
)
RUNNING_STATUS = smf(track((0, tempo(500_000)), *RUNNING_STATUS_EVENTS), midi_type=0)
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
        "division 0": (smf(track((0, b"\x90\x3c\x64"), (480, b"\x80\x3c\x00")), midi_type=0, division=0),
                       "ticks per beat is 0"),
        "zero tempo": (smf(track((0, tempo(0)), (0, b"\x90\x3c\x64"), (480, b"\x80\x3c\x00")), midi_type=0),
                       "tempo of zero microseconds per beat"),
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


# ------------------------------------------------------------------ floods: bounds on what a file holds
# Flood files are written as raw bytes (mido would take longer to build them than the reader takes to refuse
# them), compact with running status; each stays under MAX_FILE_BYTES, as an upload would.
NOTE = (b"\x00\x90\x3c\x64", b"\x00\x80\x3c\x00")  # one beat of middle C at 480 ticks per beat: on ... off


def raw_smf(*bodies: bytes, division: int = 480, midi_type: int = 1) -> bytes:
    """Tracks given as raw event bytes (no end-of-track added) -> a Standard MIDI File."""
    chunks = b"".join(b"MTrk" + struct.pack(">I", len(body)) + body for body in bodies)
    return b"MThd" + struct.pack(">IHHH", 6, midi_type, len(bodies), division) + chunks


def flood(first: bytes, then: bytes, count: int) -> bytes:
    """`count` events: `first`, then `then` repeated (usually the same event in running status)."""
    return first + then * (count - 1)


# For each kind of EVENT_KINDS: its first event and a repeat (running status where the kind has it).
KIND_EVENTS = {
    "note_events": (b"\x00\x90\x3c\x64", b"\x00\x3c\x00"),  # note-on, then velocity-0 note-offs
    "control_changes": (b"\x00\xb0\x07\x64", b"\x00\x07\x64"),
    "channel_messages": (b"\x00\xc0\x05", b"\x00\x05"),  # program changes: two bytes each in running status
    "tempo_changes": (b"\x00" + tempo(500_000), b"\x00" + tempo(500_000)),
    "meta_events": (b"\x00\xff\x01\x00", b"\x00\xff\x01\x00"),  # empty text events
    "system_messages": (b"\x00\xf8", b"\x00\xf8"),  # timing clocks: mido builds a message for each
}


def with_note(events: bytes) -> bytes:
    """A playable file whose one track starts with `events`: everything but those events is tiny."""
    return raw_smf(events + NOTE[0] + variable_length(480) + NOTE[1][1:] + b"\x00\xff\x2f\x00")


@pytest.mark.parametrize("kind", list(EVENT_KINDS))
def test_each_kind_of_event_is_counted_up_to_its_bound_and_refused_past_it(kind):
    limit, words = EVENT_KINDS[kind]
    first, then = KIND_EVENTS[kind]
    at_limit = count_events(raw_smf(flood(first, then, limit)))
    assert at_limit[kind] == at_limit["events"] == limit
    with pytest.raises(UnusableMidiError, match=f"^The MIDI file has more than {limit:,} {words}; "
                                                f"at most {limit:,} are accepted.$"):
        count_events(raw_smf(flood(first, then, limit + 1)))


class MidoMustNotParse(mido.MidiFile):
    def __init__(self, *args, **kwargs):
        raise AssertionError("mido was asked to parse a flood that the byte count should have refused")


def test_control_change_flood_is_refused_before_mido_builds_any_message(monkeypatch):
    data = with_note(flood(*KIND_EVENTS["control_changes"], 1_600_000))  # 4.8 MB
    assert len(data) <= MAX_FILE_BYTES
    monkeypatch.setattr(mido, "MidiFile", MidoMustNotParse)
    with pytest.raises(UnusableMidiError, match="^The MIDI file has more than 100,000 control changes; "
                                                "at most 100,000 are accepted.$"):
        read_score(data)


def test_tempo_change_flood_is_refused_in_little_memory(tmp_path):
    data = with_note(flood(*KIND_EVENTS["tempo_changes"], 700_000))  # 4.9 MB
    assert len(data) <= MAX_FILE_BYTES
    path = tmp_path / "tempo-flood.mid"
    path.write_bytes(data)
    with pytest.raises(UnusableMidiError, match="more than 20,000 tempo changes; at most 20,000 are accepted"):
        read_score(path)
    tracemalloc.start()  # (it slows the count down some 30 times: one flood is enough)
    try:
        with pytest.raises(UnusableMidiError, match="more than 20,000 tempo changes; at most 20,000 are accepted"):
            read_score(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # mido would build 700,000 message objects first: well over 100 MB.
    assert peak < 10e6, f"{peak / 1e6:.0f} MB used to refuse a flood"


def test_meta_event_and_system_message_floods_are_refused():
    with pytest.raises(UnusableMidiError, match="more than 20,000 meta events"):
        read_score(with_note(flood(*KIND_EVENTS["meta_events"], 1_000_000)))
    with pytest.raises(UnusableMidiError, match="more than 2,000 system exclusive and other system messages"):
        read_score(with_note(flood(*KIND_EVENTS["system_messages"], 2_000_000)))


def test_running_status_tricks_are_counted_as_mido_reads_them():
    # Running status after a sysex: mido drops the data byte and reads another sysex (3 bytes each).
    sysex = flood(b"\x00\xf0\x00", b"\x00\x00\x00", 1_500_000)
    with pytest.raises(UnusableMidiError, match="system exclusive"):
        read_score(with_note(sysex))
    # Program changes in running status take two bytes each: 2.5 million fit in 5 MB.
    with pytest.raises(UnusableMidiError, match="more than 100,000 program changes, pitch bends and aftertouch"):
        read_score(with_note(flood(*KIND_EVENTS["channel_messages"], 2_500_000)))
    # A meta event between channel events leaves running status as it was.
    small = raw_smf(b"\x00\x90\x3c\x64\x00\xff\x01\x00\x83\x60\x3c\x00\x00\xff\x2f\x00")
    assert count_events(small)["note_events"] == 2 and plain(read_score(small).notes) == [(0, 60, 480)]


def test_zero_length_note_flood_is_refused_though_it_has_no_notes():
    # Zero-length notes are dropped, so MAX_NOTES never sees them; the bound on note events does.
    zero_length = flood(b"\x00\x90\x3c\x64", b"\x00\x3c\x00\x00\x3c\x64", 700_000)
    with pytest.raises(UnusableMidiError, match="more than 250,000 note-on and note-off events"):
        read_score(with_note(zero_length))


def test_many_kinds_each_under_its_bound_are_refused_by_the_total():
    notes = flood(b"\x00\x90\x3c\x64", b"\x00\x3c\x00", 240_000)
    controls = flood(*KIND_EVENTS["control_changes"], MAX_EVENTS - 240_000 + 1)
    with pytest.raises(UnusableMidiError, match=f"more than {MAX_EVENTS:,} events; at most {MAX_EVENTS:,}"):
        read_score(with_note(notes + controls))


def test_too_many_tracks_are_refused_from_the_header():
    tiny = b"MTrk" + struct.pack(">I", 4) + b"\x00\xff\x2f\x00"
    many = b"MThd" + struct.pack(">IHHH", 6, 1, 30_000, 480) + tiny * 30_000
    with pytest.raises(UnusableMidiError, match=f"has 30,000 tracks; at most {MAX_TRACKS:,} are accepted"):
        read_score(many)
    # The header alone is enough: the tracks need not even be there.
    with pytest.raises(UnusableMidiError, match="has 30,000 tracks"):
        read_score(many[:14])
    # As many tracks as allowed, one note in one of them, is read.
    allowed = raw_smf(NOTE[0] + b"\x83\x60" + NOTE[1][1:] + b"\x00\xff\x2f\x00",
                      *[b"\x00\xff\x2f\x00"] * (MAX_TRACKS - 1))
    assert plain(read_score(allowed).notes) == [(0, 60, 480)]


def test_83_hours_at_10_bpm_is_refused_by_its_length_in_seconds():
    # 499 one-beat notes, 100 beats apart, at 10 BPM: 49,801 beats (under MAX_BEATS), 83 hours.
    events = b"\x00" + tempo(6_000_000) + b"".join(
        (NOTE[0] if index == 0 else variable_length(99 * 480) + NOTE[0][1:]) + variable_length(480) + NOTE[1][1:]
        for index in range(499))
    data = raw_smf(events + b"\x00\xff\x2f\x00")
    assert 49_801 < MAX_BEATS
    with pytest.raises(UnusableMidiError, match=r"^The MIDI file plays for 83\.0 hours; at most 4 hours are "
                                                r"accepted\.$"):
        read_score(data)


def test_length_in_seconds_follows_the_tempo_map():
    def piece(*tempos_by_beat: tuple[int, int]) -> bytes:
        """3,000 one-beat notes, with tempo changes (beat, microseconds per beat) written where they fall."""
        events, changes = [], dict(tempos_by_beat)
        for beat in range(3_000):
            if beat in changes:
                events.append(b"\x00" + tempo(changes[beat]))
            events.append(b"\x00\x90\x3c\x64" + variable_length(480) + b"\x80\x3c\x00")
        return raw_smf(b"".join(events) + b"\x00\xff\x2f\x00")

    assert MAX_SECONDS == 4 * 3600
    slow_start = read_score(piece((0, 6_000_000), (1, 500_000)))  # one beat at 10 BPM, then 120 BPM
    assert slow_start.seconds() == pytest.approx(6 + 2_999 * 0.5)
    with pytest.raises(UnusableMidiError, match="plays for 5.0 hours"):
        read_score(piece((0, 6_000_000)))  # 3,000 beats at 10 BPM
    with pytest.raises(UnusableMidiError, match="plays for 5.0 hours"):
        read_score(piece((0, 500_000), (1, 6_000_000)))  # 120 BPM for one beat, then 10 BPM


def test_division_zero_and_smpte_each_get_their_own_message():
    note = track((0, b"\x90\x3c\x64"), (480, b"\x80\x3c\x00"))
    with pytest.raises(UnusableMidiError) as zero:
        read_score(smf(note, division=0))
    with pytest.raises(UnusableMidiError) as smpte:
        read_score(smf(note, division=0xE250))  # -30 frames per second, 80 ticks per frame
    assert "ticks per beat is 0" in str(zero.value) and "SMPTE" not in str(zero.value)
    assert "SMPTE frames" in str(smpte.value) and "is 0" not in str(smpte.value)
    built = mido.MidiFile(ticks_per_beat=0, tracks=[mido.MidiTrack([mido.Message("note_on", note=60, time=0)])])
    with pytest.raises(UnusableMidiError, match="ticks per beat is 0"):
        read_score(built)


def test_overlong_numbers_and_big_payloads_are_refused_at_once():
    # mido reads a delta time of any length; its cost grows with the square of the length (hours for 4 MB).
    with pytest.raises(UnusableMidiError, match="takes more than 4 bytes"):
        read_score(raw_smf(b"\xff" * 4_000_000 + b"\x7f" + NOTE[0][1:]))
    lyric = b"\x00\xff\x05" + variable_length(200_000) + b"la " * 66_666 + b"la"
    with pytest.raises(UnusableMidiError, match=f"more than {MAX_DATA_BYTES // 1024} KB of text and system exclusive"):
        read_score(with_note(lyric * 2))
    # A meta event claiming more bytes than are left is damage, not a payload.
    with pytest.raises(UnusableMidiError, match="damaged or truncated"):
        read_score(raw_smf(NOTE[0] + b"\x00\xff\x01" + variable_length(1_000_000) + b"text"))


def test_midi_files_built_in_code_are_held_to_the_same_bounds():
    messages = [mido.MetaMessage("set_tempo", tempo=500_000, time=0)] * 20_001
    built = mido.MidiFile(tracks=[mido.MidiTrack([*messages, mido.Message("note_on", note=60, time=0)])])
    with pytest.raises(UnusableMidiError, match="more than 20,000 tempo changes"):
        read_score(built)


def mido_counts(midi: mido.MidiFile) -> Counter:
    """What mido built, counted by the kinds of EVENT_KINDS."""
    counts = Counter(tracks=len(midi.tracks))
    for message in (message for track in midi.tracks for message in track):
        kind = message.type
        counts["events"] += 1
        counts["note_events" if kind in ("note_on", "note_off") else "control_changes" if kind == "control_change"
               else "channel_messages" if kind in ("program_change", "pitchwheel", "aftertouch", "polytouch")
               else "tempo_changes" if kind == "set_tempo" else "meta_events" if message.is_meta
               else "system_messages"] += 1
    return counts


def scanned(counts: dict) -> Counter:
    return Counter({key: value for key, value in counts.items() if key != "data_bytes" and value})


def test_whole_corpus_is_within_the_bounds_with_a_wide_margin():
    """Every real file passes every event bound with at least 10x to spare; a sample agrees with mido exactly."""
    files = corpus_sample(1)
    largest = Counter()
    for index, path in enumerate(files):
        data = path.read_bytes()
        counts = count_events(data)
        largest |= Counter(counts)
        if index % 10 == 0:
            assert scanned(counts) == mido_counts(mido.MidiFile(file=io.BytesIO(data))), path.name
    for kind, (limit, _) in EVENT_KINDS.items():
        assert largest[kind] * 10 <= limit, kind
    assert largest["events"] * 10 <= MAX_EVENTS and largest["tracks"] * 10 <= MAX_TRACKS
    assert largest["data_bytes"] * 10 <= MAX_DATA_BYTES and largest["note_events"] < 2 * MAX_NOTES


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_count_events_counts_what_mido_builds(data):
    """Damaged files: wherever mido reads the file, the byte-level count is exactly what it built."""
    base = bytearray(smf(track((0, tempo(600_000)), (0, b"\xb0\x07\x64"), (0, b"\xc0\x05"), (0, b"\xff\x01\x02hi")),
                         track((0, b"\xf0\x02\x7e\xf7"), *RUNNING_STATUS_EVENTS, (0, b"\xe0\x00\x40"))))
    for _ in range(data.draw(st.integers(1, 6))):
        base[data.draw(st.integers(0, len(base) - 1))] = data.draw(st.integers(0, 255))
    damaged = bytes(base[:data.draw(st.integers(0, len(base)))])
    try:
        counts = count_events(damaged)
    except UnusableMidiError:
        return  # refused before mido: read_score says the same
    try:
        midi = mido.MidiFile(file=io.BytesIO(damaged))
    except Exception:  # noqa: BLE001 - mido refuses the damage; read_score turns that into UnusableMidiError
        return
    assert scanned(counts) == +mido_counts(midi)


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
