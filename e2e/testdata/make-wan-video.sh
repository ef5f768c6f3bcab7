#!/usr/bin/env bash
# Generates the video of e2e/wan_video_test.go: $2 seconds (60 for the test, less in
# CI) of 1080p H.264 (High profile, one keyframe per second) + AAC at about 8 Mbit/s, written
# to $1 with the index at the front (-movflags +faststart), as a phone or a camera app saves it.
# Encoding a minute of 1080p takes minutes on a small machine, so it encodes 4 s of a test
# pattern with noise (which holds the bit rate up) once and repeats it without re-encoding
# (-stream_loop, -c copy): every frame is still real 1080p H.264 the browser must decode.
# Needs Debian's ffmpeg (apt-get install -y ffmpeg).
set -euo pipefail
out=${1:?usage: make-wan-video.sh OUT.mp4 SECONDS}
dur=${2:?usage: make-wan-video.sh OUT.mp4 SECONDS}
seg=$(mktemp --suffix=.mp4)
trap 'rm -f "$seg"' EXIT
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }
ff -f lavfi -i "testsrc2=size=1920x1080:rate=24:duration=4,noise=alls=20:allf=t" \
	-f lavfi -i "sine=frequency=440:sample_rate=48000:duration=4" \
	-c:v libx264 -preset ultrafast -profile:v high -pix_fmt yuv420p -b:v 7.5M -maxrate 7.5M -bufsize 7.5M \
	-g 24 -keyint_min 24 -c:a aac -b:a 96k "$seg"
ff -stream_loop -1 -i "$seg" -t "$dur" -c copy -movflags +faststart "$out"
