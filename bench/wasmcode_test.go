package main

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wasmModule builds a small wasm binary: one imported function, a memory with limits, a code
// section with bodies of the given sizes, and a name section naming every function.
func wasmModule(names []string, bodies []int) []byte {
	uleb := func(b []byte, v int) []byte { return binary.AppendUvarint(b, uint64(v)) }
	str := func(b []byte, s string) []byte { return append(uleb(b, len(s)), s...) }
	section := func(b []byte, id byte, body []byte) []byte { return append(uleb(append(b, id), len(body)), body...) }

	b := []byte("\x00asm\x01\x00\x00\x00")
	var imp []byte
	imp = uleb(imp, 2)
	imp = append(str(str(imp, "go"), "debug"), 0) // a function
	imp = uleb(imp, 0)
	imp = append(str(str(imp, "env"), "mem"), 2, 1) // a memory with a maximum
	imp = uleb(uleb(imp, 1), 300)
	b = section(b, 2, imp)
	var code []byte
	code = uleb(code, len(bodies))
	for _, n := range bodies {
		code = append(uleb(code, n), make([]byte, n)...)
	}
	b = section(b, 10, code)
	var fn []byte
	fn = uleb(fn, len(names))
	for i, n := range names {
		fn = str(uleb(fn, i), n)
	}
	var name []byte
	name = str(name, "name")
	name = append(uleb(append(name, 1), len(fn)), fn...)
	return section(b, 0, name)
}

func TestWasmCodeByPackage(t *testing.T) {
	b := wasmModule(
		[]string{"go.debug", "runtime.mallocgc", "github.com_rangecast_rangecast_pkg_peer.__Conn_.Close", "runtime.memmove", "fmt.Sprintf"},
		[]int{300, 500, 40, 200},
	)
	got, err := wasmCodeByPackage(b)
	require.NoError(t, err)
	assert.Equal(t, []pkgSize{{"rangecast/pkg_peer", 500}, {"runtime", 340}, {"fmt", 200}}, got)

	_, err = wasmCodeByPackage(b[:len(b)-3])
	assert.Error(t, err, "a truncated name section")
	_, err = wasmCodeByPackage(wasmModule(nil, []int{10}))
	assert.Error(t, err, "no names: a build with -s -w")
	_, err = wasmCodeByPackage([]byte("\x7fELF...."))
	assert.Error(t, err)
}

func TestWasmPackage(t *testing.T) {
	for name, want := range map[string]string{
		"runtime.mallocgc":   "runtime",
		"fmt.__pp_.doPrintf": "fmt",
		"github.com_rangecast_rangecast_pkg_peer.__Conn_.Close": "github.com_rangecast_rangecast_pkg_peer",
		"golang.org_x_sys_unix.Syscall":                         "golang.org_x_sys_unix",
		"internal_abi.Kind.String":                              "internal_abi",
		"type_.eq.main.pkgSize":                                 "type_",
		"_rt0_wasm_js":                                          "_rt0_wasm_js",
	} {
		assert.Equal(t, want, wasmPackage(name), name)
	}
}
