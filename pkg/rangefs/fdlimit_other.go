//go:build !unix

package rangefs

// defaultMaxOpenFiles is a fixed budget where there is no RLIMIT_NOFILE to derive it from
// (Windows, js/wasm under Node).
func defaultMaxOpenFiles() int { return 1024 }
