"""kill -9 during ingest leaves only whole fragments, and recovery removes the leftovers."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import cv2
import pytest

from workbench import SimulatedClock, Workbench

_PRODUCER = textwrap.dedent(
    """
    import sys
    from workbench import SimulatedClock, Workbench
    from workbench.video import SyntheticCamera
    wb = Workbench(home=sys.argv[1], clock=SimulatedClock(start="2026-03-01"))
    stream = wb.video.stream("cam")
    camera = SyntheticCamera(320, 240, 30)
    print("ready", flush=True)
    stream.put_media(camera.frames(600, start=wb.clock.now()), fragment_duration=0.5)
    """
)


@pytest.mark.parametrize("delay", [0.6, 1.3, 2.1])
def test_kill_9_during_ingest_leaves_only_whole_fragments(tmp_path, delay):
    home = tmp_path / "home"
    Workbench(home=home, clock=SimulatedClock(start="2026-03-01")).video.create_stream("cam")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    producer = subprocess.Popen(
        [sys.executable, "-c", _PRODUCER, str(home)], stdout=subprocess.PIPE, env=env
    )
    assert producer.stdout.readline().strip() == b"ready"
    time.sleep(delay)
    producer.send_signal(signal.SIGKILL)
    producer.wait(timeout=10)

    wb = Workbench(home=home, clock=SimulatedClock(start="2026-03-01"))
    stream = wb.video.stream("cam")
    fragments = stream.fragments()
    assert fragments, "the producer should have persisted some fragments before the kill"
    wb.video.recover()
    on_disk = sorted(p.name for p in stream.folder.glob("*.avi")) + sorted(
        p.name for p in stream.folder.glob(".*")
    )
    assert on_disk == sorted(f.path.name for f in fragments)
    for fragment in fragments:
        capture = cv2.VideoCapture(str(fragment.path))
        count = 0
        while capture.read()[0]:
            count += 1
        assert count == len(fragment.frame_times) == 15
    frames = list(stream.get_media("EARLIEST"))
    assert len(frames) == 15 * len(fragments)
    # A producer can go on where the dead one stopped.
    stream.put_media([(frames[-1].producer_timestamp + 1, frames[-1].image)])
    assert len(stream.fragments()) == len(fragments) + 1


def test_recovery_leaves_a_working_producer_alone(make_wb):
    wb = make_wb()
    stream = wb.video.create_stream("cam")
    with stream._ingest_lock(wait=True):
        unfinished = stream.folder / ".pending-1-1.avi"
        unfinished.write_bytes(b"RIFF")
        assert wb.video.recover() == 0
        assert unfinished.exists()
    assert wb.video.recover() == 1
    assert not unfinished.exists()
