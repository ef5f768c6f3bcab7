package main

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// wasmCodeByPackage sums the size of each function body in a Go wasm built with its symbols
// (without -s -w) by the package in its name, largest first: where the wasm's bytes go, for
// the wasm group's log. It reads the binary's import section (imported functions come first
// in the function index space), code section and "name" custom section (WebAssembly core
// spec, "Binary Format"; the name section's appendix).
func wasmCodeByPackage(b []byte) ([]pkgSize, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) {
		return nil, errors.New("not a wasm binary")
	}
	r := &wasmReader{b: b, i: 8}
	var imported uint32
	var bodies []uint32
	names := map[uint32]string{}
	for r.err == nil && r.i < len(b) {
		id := r.byte()
		size := r.u32()
		end := r.i + int(size)
		if r.err != nil || end > len(b) {
			return nil, errors.New("truncated section")
		}
		s := &wasmReader{b: b[:end], i: r.i}
		switch id {
		case 2: // imports: module, name, then a kind and its description
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				s.skip(int(s.u32()))
				s.skip(int(s.u32()))
				switch s.byte() {
				case 0: // a function: its type index
					s.u32()
					imported++
				case 1: // a table: element type, limits
					s.byte()
					s.limits()
				case 2: // a memory: limits
					s.limits()
				case 3: // a global: type, mutability
					s.skip(2)
				}
			}
		case 10: // code: each body's size, then the body
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				sz := s.u32()
				bodies = append(bodies, sz)
				s.skip(int(sz))
			}
		case 0: // custom: "name" holds the function names (subsection 1)
			if string(s.bytes(int(s.u32()))) != "name" {
				break
			}
			for s.err == nil && s.i < end {
				sub, subSize := s.byte(), s.u32()
				subEnd := s.i + int(subSize)
				if sub == 1 {
					for n := s.u32(); n > 0 && s.err == nil; n-- {
						idx := s.u32()
						names[idx] = string(s.bytes(int(s.u32())))
					}
				}
				s.i = subEnd
			}
		}
		if s.err != nil {
			return nil, s.err
		}
		r.i = end
	}
	if len(names) == 0 {
		return nil, errors.New("no function names: build without -s -w")
	}
	sums := map[string]int{}
	for i, sz := range bodies {
		pkg := wasmPackage(names[imported+uint32(i)]) //nolint:gosec // a function index
		sums[strings.Replace(pkg, "github.com_rangecast_rangecast_", "rangecast/", 1)] += int(sz)
	}
	out := make([]pkgSize, 0, len(sums))
	for p, n := range sums {
		out = append(out, pkgSize{p, n})
	}
	slices.SortFunc(out, func(a, b pkgSize) int { return cmp.Or(cmp.Compare(b.size, a.size), strings.Compare(a.pkg, b.pkg)) })
	return out, nil
}

// hostPath matches a function name that starts with a module path's host, whose dot Go keeps
// ("github.com_rangecast_rangecast_pkg_peer.__Conn_.Close"; the path's slashes become "_").
var hostPath = regexp.MustCompile(`^[a-z0-9.-]+\.(com|org|net|io|in|dev)_`)

// wasmPackage returns the package part of a Go function's name in the wasm.
func wasmPackage(name string) string {
	skip := len(hostPath.FindString(name))
	if i := strings.IndexByte(name[skip:], '.'); i >= 0 {
		return name[:skip+i]
	}
	return name
}

type pkgSize struct {
	pkg  string // as Go names it in the wasm: "/" and "." become "_"
	size int    // bytes of function bodies
}

// wasmReader reads a wasm binary's LEB128 integers and byte strings, keeping the first error.
type wasmReader struct {
	b   []byte
	i   int
	err error
}

func (r *wasmReader) byte() byte {
	if r.err != nil || r.i >= len(r.b) {
		r.err = cmp.Or(r.err, errors.New("truncated"))
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

func (r *wasmReader) u32() uint32 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[min(r.i, len(r.b)):])
	if n <= 0 || v > 1<<32-1 {
		r.err = fmt.Errorf("bad LEB128 at byte %d", r.i)
		return 0
	}
	r.i += n
	return uint32(v)
}

func (r *wasmReader) bytes(n int) []byte {
	if r.err != nil || n < 0 || r.i+n > len(r.b) {
		r.err = cmp.Or(r.err, errors.New("truncated"))
		return nil
	}
	r.i += n
	return r.b[r.i-n : r.i]
}

func (r *wasmReader) skip(n int) { r.bytes(n) }

// limits: a flag, then the minimum and, if the flag says so, the maximum.
func (r *wasmReader) limits() {
	hasMax := r.byte()&1 != 0
	r.u32()
	if hasMax {
		r.u32()
	}
}
