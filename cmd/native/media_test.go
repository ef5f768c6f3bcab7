package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
)

var (
	mediaOnce sync.Once
	mediaDir  string
	mediaErr  error
)

// media returns a directory holding a.mp4 (index at the end: a player must read the end
// first, then seek back) and fast.mp4 (index at the front), 8 s each, made once per run
// with ffmpeg as e2e/testdata/make-media.sh does. It is the one check of ffmpeg for the
// gateway's and the mount's media tests: without ffmpeg and ffprobe the test is skipped,
// saying so, unless RANGECAST_REQUIRE_NETNS=1 (make test) asks for every test to run.
func media(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			msg := fmt.Sprintf("no %s here: the media tests need it (make deps, or apt-get install -y ffmpeg)", tool)
			if netns.Required() {
				t.Fatal(msg)
			}
			t.Skip("SKIPPING: " + msg)
		}
	}
	mediaOnce.Do(func() {
		mediaDir, mediaErr = os.MkdirTemp("", "rangecast-media-")
		if mediaErr != nil {
			return
		}
		args := func(out string, extra ...string) []string {
			a := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y",
				"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=24:duration=8,noise=alls=30:allf=t",
				"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=8",
				"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-b:v", "4M", "-g", "24",
				"-c:a", "aac", "-b:a", "64k"}
			return append(append(a, extra...), filepath.Join(mediaDir, out))
		}
		for _, a := range [][]string{args("a.mp4"), args("fast.mp4", "-movflags", "+faststart")} {
			if out, err := exec.Command("ffmpeg", a...).CombinedOutput(); err != nil {
				mediaErr = fmt.Errorf("ffmpeg: %v: %s", err, out)
				return
			}
		}
	})
	require.NoError(t, mediaErr)
	return mediaDir
}

// decodeSum decodes src with ffmpeg (after seeking to ss seconds if ss is not "") and
// returns the sha256 of its per-frame checksums: equal sums mean the same decoded frames.
func decodeSum(t *testing.T, src, ss string) string {
	t.Helper()
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin"}
	if ss != "" {
		args = append(args, "-ss", ss)
	}
	args = append(args, "-i", src, "-map", "0", "-f", "framemd5", "-")
	cmd := exec.Command("ffmpeg", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "ffmpeg %s: %s", src, stderr.String())
	require.Greater(t, bytes.Count(out, []byte("\n")), 100, "ffmpeg decoded almost nothing from %s", src)
	s := sha256.Sum256(out)
	return hex.EncodeToString(s[:])
}

// probeDuration asks ffprobe for src's duration.
func probeDuration(t *testing.T, src string) string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", src).CombinedOutput()
	require.NoError(t, err, "ffprobe %s: %s", src, out)
	return strings.TrimSpace(string(out))
}

type gatewayProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
	exited chan error
}

// startGateway runs `rangecast http LINK` and reads the URL it prints.
func startGateway(t *testing.T, link string, args ...string) *gatewayProc {
	t.Helper()
	cmd := exec.Command(binPath, append(append([]string{"http"}, args...), link)...)
	g := &gatewayProc{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = g.stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() { g.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("gateway stderr:\n%s", g.stderr.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "gateway printed no URL: %s", g.stderr.String())
	g.url = strings.TrimSpace(line)
	require.Regexp(t, `^http://127\.0\.0\.1:\d+/[A-Za-z0-9_-]{20,}/$`, g.url)
	return g
}

// ffprobe and ffmpeg read and seek a remote MP4 through the gateway: the frames decoded,
// from the start and after a seek, are those of the local file.
func TestHTTPGatewayMedia(t *testing.T) {
	netns.Require(t)
	dir := media(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dir)
	g := startGateway(t, d.link)
	for _, name := range []string{"a.mp4", "fast.mp4"} {
		t.Run(name, func(t *testing.T) {
			local, remote := filepath.Join(dir, name), g.url+name
			assert.Equal(t, probeDuration(t, local), probeDuration(t, remote))
			assert.Equal(t, decodeSum(t, local, ""), decodeSum(t, remote, ""), "decoded frames")
			assert.Equal(t, decodeSum(t, local, "5.5"), decodeSum(t, remote, "5.5"), "decoded frames after a seek to 5.5 s")
		})
	}
}

// The gateway answers Range requests byte for byte, wants its token on every request, and
// stops at once on SIGINT with status 0.
func TestHTTPGatewayRangesAndToken(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)
	g := startGateway(t, d.link)
	get := func(url, rng string) *http.Response {
		req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
		require.NoError(t, err)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	mid := bigBytes[:16<<20]
	for _, tc := range []struct {
		rng  string
		code int
		want []byte
		crng string
	}{
		{"", http.StatusOK, mid, ""},
		{"bytes=0-99", http.StatusPartialContent, mid[:100], "bytes 0-99/16777216"},
		{"bytes=5000000-", http.StatusPartialContent, mid[5000000:], "bytes 5000000-16777215/16777216"},
		{"bytes=-4096", http.StatusPartialContent, mid[len(mid)-4096:], "bytes 16773120-16777215/16777216"},
	} {
		t.Run(tc.rng, func(t *testing.T) {
			resp := get(g.url+"mid.bin", tc.rng)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tc.code, resp.StatusCode)
			assert.Equal(t, tc.crng, resp.Header.Get("Content-Range"))
			assert.Equal(t, sum(tc.want), sum(body))
		})
	}
	// Query form, a subdirectory, a listing.
	token := strings.Trim(strings.TrimPrefix(g.url, "http://"+strings.Split(strings.TrimPrefix(g.url, "http://"), "/")[0]), "/")
	base := strings.TrimSuffix(g.url, token+"/")
	resp := get(base+"sub/small.txt?t="+token, "")
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "hello\n", string(body))
	resp = get(g.url+"sub/", "")
	body, _ = io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `href="small.txt"`)
	resp = get(g.url+"nope.bin", "")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	for _, u := range []string{
		base + "mid.bin", base + "sub/small.txt", base + "x" + token[1:] + "/mid.bin",
		base + "sub/small.txt?t=" + token[:len(token)-1], base,
	} {
		resp := get(u, "")
		body, _ := io.ReadAll(resp.Body)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, u)
		assert.NotContains(t, string(body), "hello")
	}

	require.NoError(t, g.cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-g.exited:
		assert.NoError(t, err, g.stderr.String())
	case <-time.After(5 * time.Second):
		t.Fatal("gateway still running 5 s after SIGINT")
	}
}
