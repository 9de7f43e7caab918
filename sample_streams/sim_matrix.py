"""Camera-matrix pieces of the RTSP simulator: live audio, RTSP auth, the launch line.

Runs under the SYSTEM python with GStreamer bindings (stdlib + gi only), like rtsp_sim.
See sample_streams/matrix.py for the variants these serve.
"""

from __future__ import annotations

from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtsp, GstRtspServer  # noqa: E402

# Live audio for matrix cameras (sample_streams/matrix.py): a quiet tone on the pipeline
# clock, so it runs in step with the video whoever watches.
_TONE = "audiotestsrc name=asrc is-live=true wave=sine freq=440 volume=0.2"
AUDIO = {
    "pcmu": f"{_TONE} samplesperbuffer=160 ! audio/x-raw,rate=8000,channels=1 ! mulawenc ! "
            "rtppcmupay name=pay1",
    "pcma": f"{_TONE} samplesperbuffer=160 ! audio/x-raw,rate=8000,channels=1 ! alawenc ! "
            "rtppcmapay name=pay1",
    "aac": f"{_TONE} samplesperbuffer=1024 ! audio/x-raw,rate=16000,channels=1 ! "
           "voaacenc bitrate=32000 ! rtpmp4gpay name=pay1 pt=97",
}


def launch_for(codec: str = "h264", audio: str = "none") -> str:
    """The media pipeline of a mount: appsrc video (H.264 or H.265), optional live audio."""
    video = (
        "appsrc name=src is-live=true format=time do-timestamp=false max-buffers=45 "
        f"leaky-type=downstream ! rtp{codec}pay name=pay0 pt=96 config-interval=-1"
    )
    if audio == "none":
        return f"( {video} )"
    return f"( {video} {AUDIO[audio]} )"



def make_auth(method: str, user: str, password: str) -> Any:
    """An RTSPAuth that lets ``user`` in by Basic or Digest, giving the role "user"."""
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
    if method == "digest":
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.add_digest(user, password, token)
    elif method == "basic":
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    else:
        raise ValueError(f"unknown auth method {method!r}")
    return auth


def not_seekable(source: Any) -> None:
    """A live camera cannot seek: make the audio test source say so, or the PLAY's
    ``Range: npt=0-`` seek (which the video appsrc cannot do) would fail with 503."""

    def answer(_pad: Any, info: Any) -> Any:
        query = info.get_query()
        if query is not None and query.type == Gst.QueryType.SEEKING:
            return Gst.PadProbeReturn.HANDLED  # answered as made: seekable false
        return Gst.PadProbeReturn.OK

    source.get_static_pad("src").add_probe(Gst.PadProbeType.QUERY_UPSTREAM, answer)
