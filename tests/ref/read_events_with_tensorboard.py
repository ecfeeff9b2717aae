#!/usr/bin/env python3
"""read_events_with_tensorboard.py - reference check of the TensorBoard event files bertvits2.c
writes (src/io/tensorboard.c), with TensorBoard's own readers. NOT run by `make test` (the build
needs no Python); run it by hand after changing src/io/tensorboard.c, png_image.c or wav.c:

    python3 -m venv /tmp/tbvenv && /tmp/tbvenv/bin/pip install tensorboard
    mkdir -p /tmp/tb && BV_TB_KEEP_DIR=/tmp/tb build/bv2-tests --unit-only tb_event_file_roundtrip
    /tmp/tbvenv/bin/python tests/ref/read_events_with_tensorboard.py /tmp/tb
    # or any model folder a training run wrote: ... read_events_with_tensorboard.py logs/mymodel

For every event file under the folder (recursively):
  1. every record through TensorBoard's record reader (tensorflow_stub PyRecordReader, which checks
     the length and both masked CRC32Cs; a torn last record is reported as truncated, anything else
     fails the run) and parsed as a tensorboard Event protobuf;
  2. the run through EventAccumulator (the legacy reader: scalars, images, audio) and through
     plugin_event_accumulator (what the TensorBoard UI serves: summaries converted to the
     scalars / images / audio plugins' tensors);
  3. prints tags with counts and steps, image sizes (and checks the PNG header against them) and
     audio formats (and decodes the WAV with Python's wave module).
Exit status 0 when everything reads, 1 otherwise.
"""
import io
import os
import struct
import sys
import wave

from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing import plugin_event_accumulator as pea
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import errors
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New


def event_files(root):
    for d, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            if "tfevents" in f:
                yield os.path.join(d, f)


def check_records(path):
    """Every record through TensorBoard's CRC-checking reader; returns (records, ok)."""
    reader = PyRecordReader_New(path.encode() if isinstance(path, str) else path, 0, b"")
    n, ok = 0, True
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            break
        except errors.DataLossError as e:
            msg = str(e)
            print(f"  record {n}: {msg}")
            ok = "truncated" in msg  # a torn tail after a kill is tolerated, a CRC mismatch is not
            break
        ev = event_pb2.Event()
        ev.ParseFromString(reader.record())
        if n == 0 and ev.file_version != "brain.Event:2":
            print(f"  first record has file_version {ev.file_version!r}")
            ok = False
        n += 1
    return n, ok


def png_size(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])  # width, height


def report_run(run):
    ok = True
    acc = ea.EventAccumulator(run, size_guidance={ea.SCALARS: 0, ea.IMAGES: 0, ea.AUDIO: 0})
    acc.Reload()
    tags = acc.Tags()
    print(f"run {run}: {len(tags['scalars'])} scalar, {len(tags['images'])} image, {len(tags['audio'])} audio tags")
    for tag in tags["scalars"]:
        evs = acc.Scalars(tag)
        print(f"  scalar {tag}: {len(evs)} events, steps {[e.step for e in evs]}, last {evs[-1].value!r}")
    for tag in tags["images"]:
        evs = acc.Images(tag)
        for e in evs:
            wh = png_size(e.encoded_image_string)
            if wh != (e.width, e.height):
                print(f"  image {tag} step {e.step}: PNG header {wh} != event {e.width}x{e.height}")
                ok = False
        e = evs[-1]
        print(f"  image {tag}: {len(evs)} events, {e.width}x{e.height} PNG, {len(e.encoded_image_string)} bytes")
    for tag in tags["audio"]:
        evs = acc.Audio(tag)
        e = evs[-1]
        with wave.open(io.BytesIO(e.encoded_audio_string)) as w:
            fmt = (w.getframerate(), w.getnchannels(), w.getsampwidth() * 8, w.getnframes())
        if fmt != (int(e.sample_rate), 1, 16, e.length_frames):
            print(f"  audio {tag}: WAV {fmt} disagrees with the event")
            ok = False
        print(f"  audio {tag}: {len(evs)} events, {e.content_type}, {e.sample_rate:g} Hz, "
              f"{e.length_frames} frames, WAV {fmt[2]}-bit {fmt[1]} ch")
    # what the UI serves
    pacc = pea.EventAccumulator(run, size_guidance={pea.TENSORS: 0})
    pacc.Reload()
    plugins = {}
    for tag, meta in pacc.AllSummaryMetadata().items():
        plugins.setdefault(meta.plugin_data.plugin_name, []).append(tag)
    for name, ts in sorted(plugins.items()):
        counts = sorted({len(pacc.Tensors(t)) for t in ts})
        print(f"  UI plugin {name}: {len(ts)} tags, events per tag {counts}")
    return ok


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    root = sys.argv[1]
    files = list(event_files(root))
    if not files:
        print(f"no event files under {root}")
        return 1
    ok = True
    for f in files:
        n, good = check_records(f)
        print(f"{f}: {n} records, CRCs {'ok' if good else 'BAD'}")
        ok &= good
    for run in sorted({os.path.dirname(f) for f in files}):
        ok &= report_run(run)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
