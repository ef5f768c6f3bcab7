package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: rangecast demo DIR\n\nWrites a demo directory of assorted files (text, JSON, an image, a sound, 64 MiB of data, nested folders) into DIR.\n")
	}
	pos, help, err := parseFlags(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("demo takes DIR")
	}
	if err := writeDemo(pos[0]); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "demo files written to", pos[0])
	return nil
}

// writeDemo fills dir with files of several kinds and sizes. The content is generated from a
// fixed seed, so two runs write the same bytes; existing files of the right size are kept.
func writeDemo(dir string) error {
	rng := rand.New(rand.NewPCG(1, 2))
	files := map[string]func() []byte{
		"README.txt": func() []byte {
			return []byte("This is rangecast's demo directory: open these files from the browser or with\n`rangecast get`. They are generated; delete the folder whenever you like.\n")
		},
		"notes/todo.md": func() []byte {
			return []byte("# Things to try\n\n- list this folder\n- download big.bin and check its sha256\n")
		},
		"data/points.json": func() []byte {
			var b bytes.Buffer
			b.WriteString("[\n")
			for i := range 1000 {
				sep := ","
				if i == 999 {
					sep = ""
				}
				fmt.Fprintf(&b, "  {\"x\": %d, \"y\": %.4f}%s\n", i, math.Sin(float64(i)/50), sep)
			}
			b.WriteString("]\n")
			return b.Bytes()
		},
		"pictures/gradient.png": demoPNG,
		"music/tone.wav":        demoWAV,
		"data/big.bin": func() []byte {
			b := make([]byte, 64<<20)
			for i := 0; i < len(b); i += 8 {
				binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
			}
			return b
		},
		"empty/.keep": func() []byte { return nil },
	}
	for name, gen := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		b := gen()
		if st, err := os.Stat(p); err == nil && st.Size() == int64(len(b)) {
			continue
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func demoPNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 640, 360))
	for y := range 360 {
		for x := range 640 {
			img.Set(x, y, color.RGBA{uint8(x * 255 / 640), uint8(y * 255 / 360), 160, 255})
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

// demoWAV is three seconds of a 440 Hz tone, 16-bit mono PCM at 44.1 kHz.
func demoWAV() []byte {
	const rate, secs = 44100, 3
	n := rate * secs
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	w(uint32(36 + n*2))
	b.WriteString("WAVEfmt ")
	w(uint32(16))
	w(uint16(1))
	w(uint16(1))
	w(uint32(rate))
	w(uint32(rate * 2))
	w(uint16(2))
	w(uint16(16))
	b.WriteString("data")
	w(uint32(n * 2))
	for i := range n {
		w(int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate)))
	}
	return b.Bytes()
}
