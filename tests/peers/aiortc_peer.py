"""A second WebRTC implementation against the relay: aiortc (Python) as a WHIP camera or a WHEP
player. The whole-system test `live_peers.rs` runs it in a venv it sets up; nothing of Fieldcast's
own code is on this side of the wire.

    python aiortc_peer.py publish URL TOKEN   publishes a moving test pattern until stdin closes
    python aiortc_peer.py play URL FRAMES     plays until FRAMES video frames are decoded

Each prints one JSON line with what happened, for the test to check.
"""

import asyncio
import fractions
import json
import sys
import urllib.request

import aioice.ice
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.contrib.media import MediaBlackhole
from av import VideoFrame

# aioice leaves loopback out of its host candidates; the relay under test listens on loopback.
_host_addresses = aioice.ice.get_host_addresses
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] + _host_addresses(use_ipv4, use_ipv6)


class Pattern(VideoStreamTrack):
    """A 320x240 pattern that changes every frame, so that an encoder has something to send."""

    def __init__(self):
        super().__init__()
        self.counter = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=320, height=240, format="yuv420p")
        x = (self.counter * 4) % 300
        self.counter += 1
        luma, blue, red = frame.planes
        row = bytearray([90] * luma.line_size)
        row[x : x + 20] = b"\xff" * 20
        luma.update(bytes(row) * luma.height)
        blue.update(b"\x60" * (blue.line_size * blue.height))
        red.update(b"\x90" * (red.line_size * red.height))
        frame.pts = pts
        frame.time_base = time_base
        return frame


def post(url, body, token=None):
    """POSTs an SDP offer; returns (status, headers, answer)."""
    headers = {"Content-Type": "application/sdp"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def delete(base, location, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(base + location, headers=headers, method="DELETE")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def origin(url):
    parts = url.split("/")
    return "/".join(parts[:3])


async def connected(pc, timeout):
    """Waits until the connection is up (or gives up after `timeout` seconds)."""
    up = asyncio.Event()

    @pc.on("connectionstatechange")
    def on_change():
        if pc.connectionState == "connected":
            up.set()

    if pc.connectionState != "connected":
        try:
            await asyncio.wait_for(up.wait(), timeout)
        except asyncio.TimeoutError:
            pass
    return pc.connectionState


async def publish(url, token):
    pc = RTCPeerConnection()
    pc.addTransceiver(Pattern(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    status, headers, answer = await asyncio.to_thread(post, url, pc.localDescription.sdp, token)
    if status != 201:
        print(json.dumps({"status": status, "error": answer}), flush=True)
        return 1
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    state = await connected(pc, 15)
    print(json.dumps({"status": status, "state": state, "location": headers.get("Location")}), flush=True)
    # Publish until whoever started us closes our stdin.
    await asyncio.to_thread(sys.stdin.read)
    ended = await asyncio.to_thread(delete, origin(url), headers["Location"], token)
    await pc.close()
    print(json.dumps({"deleted": ended}), flush=True)
    return 0


async def play(url, frames):
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    decoded = {"frames": 0, "width": 0, "height": 0}
    done = asyncio.Event()

    @pc.on("track")
    def on_track(track):
        if track.kind != "video":
            MediaBlackhole().addTrack(track)
            return

        async def read():
            while decoded["frames"] < frames:
                frame = await track.recv()
                decoded["frames"] += 1
                decoded["width"], decoded["height"] = frame.width, frame.height
            done.set()

        asyncio.ensure_future(read())

    await pc.setLocalDescription(await pc.createOffer())
    status, headers, answer = await asyncio.to_thread(post, url, pc.localDescription.sdp)
    if status != 201:
        print(json.dumps({"status": status, "error": answer}), flush=True)
        return 1
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    codec = next((line.split(" ", 1)[1] for line in answer.splitlines() if line.startswith("a=rtpmap:") and "/90000" in line), "")
    try:
        await asyncio.wait_for(done.wait(), timeout=30)
    except asyncio.TimeoutError:
        pass
    await asyncio.to_thread(delete, origin(url), headers["Location"])
    await pc.close()
    print(json.dumps({"status": status, "codec": codec, **decoded}), flush=True)
    return 0 if decoded["frames"] >= frames else 2


def main():
    command = sys.argv[1]
    if command == "publish":
        return asyncio.run(publish(sys.argv[2], sys.argv[3]))
    if command == "play":
        return asyncio.run(play(sys.argv[2], int(sys.argv[3])))
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main())
