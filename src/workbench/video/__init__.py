"""Kinesis Video Streams on the workbench: cameras in, fragments stored, frames and clips out.

>>> import tempfile
>>> from workbench import SimulatedClock, Workbench
>>> wb = Workbench(home=tempfile.mkdtemp(), clock=SimulatedClock(start="2026-01-01"))
>>> door = wb.video.create_stream("door-cam")
>>> camera = SyntheticCamera(width=320, height=240, fps=10)
>>> acks = door.put_media(camera.frames(seconds=4, start=wb.clock.now()))
>>> [a["FrameCount"] for a in acks]
[20, 20]
>>> len(door.list_fragments()["Fragments"])
2
>>> sum(1 for _ in door.get_media("EARLIEST"))
40
"""

from workbench.video._camera import SyntheticCamera
from workbench.video._detectors import (
    Detection,
    Detector,
    FaceDetector,
    MotionDetector,
    PeopleDetector,
)
from workbench.video._display import draw_detections, play, show, thumbnails
from workbench.video._playback import Frame, Media
from workbench.video._processor import FrameProcessor, MemorySink, RecordSink, frame_record
from workbench.video._service import Video
from workbench.video._sources import video_file, webcam, webcam_available
from workbench.video._stream import VideoStream

__all__ = [
    "Detection",
    "Detector",
    "FaceDetector",
    "Frame",
    "FrameProcessor",
    "Media",
    "MemorySink",
    "MotionDetector",
    "PeopleDetector",
    "RecordSink",
    "SyntheticCamera",
    "Video",
    "VideoStream",
    "draw_detections",
    "frame_record",
    "play",
    "show",
    "thumbnails",
    "video_file",
    "webcam",
    "webcam_available",
]
