//go:build !unix

package rangefs

// openFlags are added to O_RDONLY when the server opens a file. Platforms without O_NONBLOCK
// (js/wasm under Node, Windows) have no FIFOs that block open.
const openFlags = 0
