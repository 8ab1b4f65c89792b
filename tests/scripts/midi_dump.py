#!/usr/bin/python3
"""midi_dump.py - an independent reader for the MIDI files libdumu writes (and any other SMF).

Usage: /usr/bin/python3 midi_dump.py FILE.mid

Parses FILE with Debian's python3-mido (not with any dumu code) and prints one JSON object on
stdout, so the C tests (tests/unit/test_midi.c) can check what a third-party reader sees:

  format, ppq, n_tracks          the header chunk as mido reads it
  chunks, trailing_bytes         the raw chunk list (id, declared length) walked by hand, and how
                                 many bytes are left over after the last chunk (should be 0)
  tracks                         per track: name, message count, end tick, whether the last
                                 message is end_of_track and whether any other one is
  tempos, time_signatures        meta events with their absolute tick and track
  programs                       program changes (tick, channel, program)
  notes                          paired notes: track, channel, pitch, velocity, start/end tick
                                 and seconds (through the file's own tempo map), sorted by
                                 (start_tick, pitch, channel); start_bend and end_bend are the
                                 channel's pitch-bend value (0..16383, 8192 before any bend)
                                 when the note-on and the note-off arrive, in file order
  pitch_bends                    (tick, seconds, channel, 14-bit value 0..16383)
  open_retriggers                note-ons that arrive while the same (track, channel, pitch)
                                 is still sounding: a writer that lets two same-pitch notes
                                 overlap shows up here
  stray_note_offs                note-offs with no sounding note to end
  unterminated_notes             notes still sounding at the end of their track

Note-on with velocity 0 counts as a note-off. Overlapping same-pitch notes are paired first in,
first out. Exit status 0 on success, 1 (message on stderr) if the file cannot be parsed.
"""

import json
import struct
import sys

import mido


def raw_chunks(data):
    """Walks the chunk headers by hand: [(id, declared length)], leftover byte count."""
    chunks = []
    pos = 0
    while pos + 8 <= len(data):
        cid = data[pos:pos + 4].decode("latin-1")
        (length,) = struct.unpack(">I", data[pos + 4:pos + 8])
        chunks.append({"id": cid, "length": length})
        pos += 8 + length
    return chunks, len(data) - pos


class TempoMap:
    """Absolute tick -> seconds through every set_tempo event (format 1: they apply to all
    tracks). 500000 us per quarter until the first one, as the SMF spec says."""

    def __init__(self, tempos, ppq):
        self.ppq = ppq
        self.points = []  # (tick, seconds at tick, tempo from tick on)
        tick, secs, tempo = 0, 0.0, 500000
        for t in sorted(tempos, key=lambda x: x["tick"]):
            secs += (t["tick"] - tick) * tempo / 1e6 / ppq
            tick, tempo = t["tick"], t["tempo_us"]
            self.points.append((tick, secs, tempo))
        self.first = (0, 0.0, 500000)

    def seconds(self, tick):
        base = self.first
        for p in self.points:
            if p[0] <= tick:
                base = p
            else:
                break
        return base[1] + (tick - base[0]) * base[2] / 1e6 / self.ppq


def dump(path):
    with open(path, "rb") as f:
        data = f.read()
    chunks, trailing = raw_chunks(data)
    mid = mido.MidiFile(path)
    ppq = mid.ticks_per_beat

    out = {
        "format": mid.type,
        "ppq": ppq,
        "n_tracks": len(mid.tracks),
        "chunks": chunks,
        "trailing_bytes": trailing,
        "tracks": [],
        "tempos": [],
        "time_signatures": [],
        "programs": [],
        "notes": [],
        "pitch_bends": [],
        "open_retriggers": 0,
        "stray_note_offs": 0,
        "unterminated_notes": 0,
    }

    # Pass 1: absolute ticks, metas, and the raw note/bend events per track.
    raw_notes = []
    raw_bends = []
    for ti, track in enumerate(mid.tracks):
        tick = 0
        name = None
        open_notes = {}  # (channel, pitch) -> [(start_tick, velocity, start_bend)], oldest first
        bend_now = {}  # channel -> current 14-bit value
        eot_positions = []
        for i, msg in enumerate(track):
            tick += msg.time
            if msg.is_meta:
                if msg.type == "track_name" and name is None:
                    name = msg.name
                elif msg.type == "set_tempo":
                    out["tempos"].append({"track": ti, "tick": tick, "tempo_us": msg.tempo,
                                          "bpm": 60e6 / msg.tempo})
                elif msg.type == "time_signature":
                    out["time_signatures"].append({
                        "track": ti, "tick": tick, "numerator": msg.numerator,
                        "denominator": msg.denominator,
                        "clocks_per_click": msg.clocks_per_click,
                        "notated_32nd_notes_per_beat": msg.notated_32nd_notes_per_beat})
                elif msg.type == "end_of_track":
                    eot_positions.append(i)
                continue
            if msg.type == "program_change":
                out["programs"].append({"track": ti, "tick": tick, "channel": msg.channel,
                                        "program": msg.program})
            elif msg.type == "pitchwheel":
                raw_bends.append((ti, tick, msg.channel, msg.pitch + 8192))
                bend_now[msg.channel] = msg.pitch + 8192
            elif msg.type == "note_on" and msg.velocity > 0:
                key = (msg.channel, msg.note)
                if open_notes.get(key):
                    out["open_retriggers"] += 1
                open_notes.setdefault(key, []).append(
                    (tick, msg.velocity, bend_now.get(msg.channel, 8192)))
            elif msg.type in ("note_off", "note_on"):
                key = (msg.channel, msg.note)
                if not open_notes.get(key):
                    out["stray_note_offs"] += 1
                    continue
                start, vel, start_bend = open_notes[key].pop(0)
                raw_notes.append((ti, msg.channel, msg.note, vel, start, tick, start_bend,
                                  bend_now.get(msg.channel, 8192)))
        for lst in open_notes.values():
            out["unterminated_notes"] += len(lst)
        out["tracks"].append({
            "name": name,
            "n_messages": len(track),
            "end_tick": tick,
            "ends_with_end_of_track": bool(eot_positions) and eot_positions[-1] == len(track) - 1,
            "n_end_of_track": len(eot_positions),
        })

    # Pass 2: seconds through the tempo map.
    tmap = TempoMap(out["tempos"], ppq)
    raw_notes.sort(key=lambda n: (n[4], n[2], n[1], n[5]))
    for ti, ch, pitch, vel, start, end, start_bend, end_bend in raw_notes:
        out["notes"].append({"track": ti, "channel": ch, "pitch": pitch, "velocity": vel,
                             "start_tick": start, "end_tick": end,
                             "start_s": tmap.seconds(start), "end_s": tmap.seconds(end),
                             "start_bend": start_bend, "end_bend": end_bend})
    for ti, tick, ch, value in raw_bends:
        out["pitch_bends"].append({"track": ti, "tick": tick, "time_s": tmap.seconds(tick),
                                   "channel": ch, "value": value})
    return out


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: midi_dump.py FILE.mid\n")
        return 2
    try:
        out = dump(sys.argv[1])
    except Exception as e:  # mido raises several types on malformed files
        sys.stderr.write("midi_dump: %s: %s\n" % (sys.argv[1], e))
        return 1
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
