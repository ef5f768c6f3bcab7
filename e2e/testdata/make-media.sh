#!/usr/bin/env bash
# Generates the media the e2e suite plays (e2e/media_test.go) into the directory given as $1:
#   faststart.mp4  H.264 + AAC, index (moov) at the front (-movflags +faststart)
#   moovend.mp4    H.264 + AAC, index at the end: the player must range-request the end first
#   vp9.webm       VP9 + Opus
#   tone.mp3       MP3
#   still.png      one frame, for the image viewer
# Each is 20 s of a synthetic test pattern and tone at 320x240 with one keyframe per second,
# quick to encode. Noise keeps the video near 6 Mbit/s (~15 MB a file): more than Chromium's
# media cache reads ahead (about 10 s of the bitrate), so long seeks need new range requests
# instead of landing in data already buffered. Needs Debian's ffmpeg (apt-get install -y ffmpeg).
set -euo pipefail
out=${1:?usage: make-media.sh OUTDIR}
mkdir -p "$out"
dur=20
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }
video=(-f lavfi -i "testsrc2=size=320x240:rate=24:duration=$dur,noise=alls=40:allf=t")
audio=(-f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$dur")

h264=(-c:v libx264 -preset ultrafast -profile:v main -pix_fmt yuv420p -b:v 6M -maxrate 6M -bufsize 6M -g 24 -keyint_min 24 -c:a aac -b:a 64k)
ff "${video[@]}" "${audio[@]}" "${h264[@]}" -movflags +faststart "$out/faststart.mp4" &
ff "${video[@]}" "${audio[@]}" "${h264[@]}" "$out/moovend.mp4" &
ff "${video[@]}" "${audio[@]}" -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 6M -g 24 \
	-c:a libopus -b:a 64k "$out/vp9.webm" &
ff "${audio[@]}" -c:a libmp3lame -b:a 96k "$out/tone.mp3" &
ff -f lavfi -i "testsrc2=size=320x240:duration=1" -frames:v 1 "$out/still.png" &
wait -n; wait -n; wait -n; wait -n; wait -n
