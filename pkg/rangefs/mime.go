//go:build !js

package rangefs

import "mime"

// typeByExtension is mime.TypeByExtension: the system's tables, then Go's own.
func typeByExtension(ext string) string { return mime.TypeByExtension(ext) }
